//! [`Spec`]: what a resource type is, declared once; the rules of its fields are declared on
//! its schemas ([`Rules`](super::Rules)).

use crate::provider::CreatedLookup;

/// What a resource type is: its type token, how an interrupted create is found again, and the
/// schema version of what state records. Which changes force a replacement, which names are
/// generated or unique, which inputs never reach the cloud and which outputs are secret are
/// declared on the schemas' fields ([`Rules`](super::Rules)), next to what they are about.
///
/// ```
/// use strake::provider::CreatedLookup;
/// use strake::typed::Spec;
///
/// const SPEC: Spec = Spec::new("aws:iam:Role", CreatedLookup::FromInputs);
/// assert_eq!((SPEC.type_token, SPEC.version), ("aws:iam:Role", 0));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// The type token, `<package>:<module>:<Type>`.
    pub type_token: &'static str,
    /// Whether an interrupted create can be found again from its inputs (no default: see
    /// [`CreatedLookup`]).
    pub created_lookup: CreatedLookup,
    /// The version of the recorded inputs' and outputs' shape. Raise it when a change of the
    /// schema needs recorded state to be rewritten, and upgrade older records in
    /// `ResourceType::upgrade`.
    pub version: u32,
}

impl Spec {
    /// A type of schema version 0.
    pub const fn new(type_token: &'static str, created_lookup: CreatedLookup) -> Spec {
        Spec { type_token, created_lookup, version: 0 }
    }

    /// Sets the schema version of what state records (0 by default).
    pub const fn version(mut self, version: u32) -> Spec {
        self.version = version;
        self
    }
}
