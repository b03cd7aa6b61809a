//! [`Urn`]: the logical identity of a resource (stack + type token + name), the key of its state.
//! The physical identity is the provider's [`crate::provider::ResourceId`].

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// `urn:strake:<stack>::<type token>::<name>`. Cheap to clone.
/// Read from a file (a saved plan, say), it is parsed: a malformed one is an error, never a panic.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct Urn(Arc<str>);

impl Serialize for Urn {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl TryFrom<String> for Urn {
    type Error = String;

    fn try_from(s: String) -> Result<Urn, String> {
        Urn::parse(&s)
    }
}

const PREFIX: &str = "urn:strake:";

impl Urn {
    /// Builds the URN of `name` of type `type_token` in `stack`.
    pub fn new(stack: &str, type_token: &str, name: &str) -> Urn {
        Urn(format!("{PREFIX}{stack}::{type_token}::{name}").into())
    }

    /// Parses a URN written by [`Urn::new`].
    pub fn parse(s: &str) -> Result<Urn, String> {
        let rest = s.strip_prefix(PREFIX).ok_or_else(|| format!("`{s}` is not a URN (expected `{PREFIX}<stack>::<type>::<name>`)"))?;
        if rest.splitn(3, "::").count() != 3 {
            return Err(format!("`{s}` is not a URN (expected `{PREFIX}<stack>::<type>::<name>`)"));
        }
        Ok(Urn(s.into()))
    }

    fn parts(&self) -> (&str, &str, &str) {
        let rest = self.0.strip_prefix(PREFIX).unwrap_or(&self.0);
        let mut it = rest.splitn(3, "::");
        (it.next().unwrap_or(""), it.next().unwrap_or(""), it.next().unwrap_or(""))
    }

    /// The stack the resource belongs to.
    pub fn stack(&self) -> &str {
        self.parts().0
    }

    /// The resource's type token, e.g. `aws:iam:Role`.
    pub fn type_token(&self) -> &str {
        self.parts().1
    }

    /// The name the program gave the resource.
    pub fn name(&self) -> &str {
        self.parts().2
    }

    /// The whole URN, as stored in state.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Urn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Urn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Urn({})", self.0)
    }
}

/// The package of a type token: `aws` in `aws:iam:Role`.
pub fn package_of(type_token: &str) -> &str {
    type_token.split(':').next().unwrap_or(type_token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_round_trip() {
        let urn = Urn::new("dev", "aws:iam:Role", "reader::x");
        assert_eq!(urn.as_str(), "urn:strake:dev::aws:iam:Role::reader::x");
        assert_eq!((urn.stack(), urn.type_token(), urn.name()), ("dev", "aws:iam:Role", "reader::x"));
        assert_eq!(Urn::parse(urn.as_str()).unwrap(), urn);
        assert!(Urn::parse("arn:aws:iam::1:role/x").is_err());
        assert_eq!(package_of("aws:iam:Role"), "aws");
    }

    #[test]
    fn a_urn_read_from_a_file_is_parsed() {
        let urn = Urn::new("dev", "aws:iam:Role", "reader");
        let text = serde_json::to_string(&urn).unwrap();
        assert_eq!(text, "\"urn:strake:dev::aws:iam:Role::reader\"");
        assert_eq!(serde_json::from_str::<Urn>(&text).unwrap(), urn);
        for bad in ["\"urn\"", "\"\"", "\"urn:strake:dev::only-two\""] {
            let err = serde_json::from_str::<Urn>(bad).unwrap_err().to_string();
            assert!(err.contains("is not a URN"), "{bad}: {err}");
        }
    }
}
