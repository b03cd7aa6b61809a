//! Three-valued truth: an element of a policy holds, fails, or cannot be decided offline.

/// Whether a part of a statement holds for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tri {
    /// Definitely true.
    Holds,
    /// Definitely false.
    Fails,
    /// Depends on something not known at plan time.
    Unknown,
}

impl Tri {
    /// `true` → Holds, `false` → Fails.
    pub(crate) fn from_bool(value: bool) -> Tri {
        if value { Tri::Holds } else { Tri::Fails }
    }

    /// Conjunction: any Fails wins, then any Unknown.
    pub(crate) fn and(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::Fails, _) | (_, Tri::Fails) => Tri::Fails,
            (Tri::Unknown, _) | (_, Tri::Unknown) => Tri::Unknown,
            _ => Tri::Holds,
        }
    }

    /// Disjunction: any Holds wins, then any Unknown.
    pub(crate) fn or(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::Holds, _) | (_, Tri::Holds) => Tri::Holds,
            (Tri::Unknown, _) | (_, Tri::Unknown) => Tri::Unknown,
            _ => Tri::Fails,
        }
    }

    /// Negation; Unknown stays Unknown.
    pub(crate) fn not(self) -> Tri {
        match self {
            Tri::Holds => Tri::Fails,
            Tri::Fails => Tri::Holds,
            Tri::Unknown => Tri::Unknown,
        }
    }

    /// Conjunction of many (Holds when empty).
    pub(crate) fn all(items: impl IntoIterator<Item = Tri>) -> Tri {
        items.into_iter().fold(Tri::Holds, Tri::and)
    }

    /// Disjunction of many (Fails when empty).
    pub(crate) fn any(items: impl IntoIterator<Item = Tri>) -> Tri {
        items.into_iter().fold(Tri::Fails, Tri::or)
    }
}

#[cfg(test)]
mod tests {
    use super::Tri::{self, *};

    #[test]
    fn kleene_tables() {
        assert_eq!(Holds.and(Unknown), Unknown);
        assert_eq!(Fails.and(Unknown), Fails);
        assert_eq!(Holds.or(Unknown), Holds);
        assert_eq!(Fails.or(Unknown), Unknown);
        assert_eq!(Unknown.not(), Unknown);
        assert_eq!(Tri::all([]), Holds);
        assert_eq!(Tri::any([]), Fails);
        assert_eq!(Tri::any([Fails, Unknown]), Unknown);
        assert_eq!(Tri::all([Holds, Unknown, Fails]), Fails);
    }
}
