//! [`Spec`]: the rules of a resource type that core applies for it, declared once.

use crate::provider::CreatedLookup;

/// The declared rules of a resource type. Core applies them, so no type writes them again:
/// names generated when absent (and kept once recorded), which changes force a replacement,
/// when a replacement must delete the old object first, which inputs never reach the cloud,
/// which outputs are secret, and the schema version of what state records.
///
/// Written as a constant with the builder methods, from the schema's field keys:
///
/// ```ignore
/// const SPEC: Spec = Spec::new("aws:iam:Role", CreatedLookup::FromInputs)
///     .generated_name(RoleInputs::NAME.name(), 64)
///     .replace_on(&[RoleInputs::NAME.name(), RoleInputs::PATH.name()])
///     .unique(&[RoleInputs::NAME.name()]);
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
    /// Inputs whose change the cloud cannot apply in place: changing one replaces the object.
    pub replace_on: &'static [&'static str],
    /// Inputs that together name the object uniquely in the cloud (an IAM role's name, a
    /// bucket's name). A replacement that keeps them, or may keep them (they are unknown at plan
    /// time), deletes the old object before creating the new one.
    pub unique: &'static [&'static str],
    /// An input filled in with a stable generated name (`<resource name>-<7 hex>`, at most this
    /// many characters) when the program leaves it out; once recorded, the recorded name is kept.
    pub generated_name: Option<(&'static str, usize)>,
    /// Inputs that only matter when the object is created: changing them changes nothing.
    pub create_only: &'static [&'static str],
    /// Inputs that only the program and the provider use, never sent to the cloud: plans do not
    /// show them as the object's properties.
    pub internal: &'static [&'static str],
    /// Outputs recorded and shown as secrets.
    pub secret_outputs: &'static [&'static str],
}

impl Spec {
    /// A type with no rules beyond the default ones: every change is applied in place.
    pub const fn new(type_token: &'static str, created_lookup: CreatedLookup) -> Spec {
        Spec {
            type_token,
            created_lookup,
            version: 0,
            replace_on: &[],
            unique: &[],
            generated_name: None,
            create_only: &[],
            internal: &[],
            secret_outputs: &[],
        }
    }

    /// Sets the schema version of what state records (0 by default).
    pub const fn version(mut self, version: u32) -> Spec {
        self.version = version;
        self
    }

    /// Sets the inputs whose change replaces the object.
    pub const fn replace_on(mut self, fields: &'static [&'static str]) -> Spec {
        self.replace_on = fields;
        self
    }

    /// Sets the inputs that together name the object uniquely in the cloud.
    pub const fn unique(mut self, fields: &'static [&'static str]) -> Spec {
        self.unique = fields;
        self
    }

    /// Generates `field` when the program leaves it out: `<resource name>-<7 hex>`, at most
    /// `max_len` characters.
    pub const fn generated_name(mut self, field: &'static str, max_len: usize) -> Spec {
        self.generated_name = Some((field, max_len));
        self
    }

    /// Sets the inputs that only matter when the object is created.
    pub const fn create_only(mut self, fields: &'static [&'static str]) -> Spec {
        self.create_only = fields;
        self
    }

    /// Sets the inputs never sent to the cloud.
    pub const fn internal(mut self, fields: &'static [&'static str]) -> Spec {
        self.internal = fields;
        self
    }

    /// Sets the outputs recorded and shown as secrets.
    pub const fn secret_outputs(mut self, fields: &'static [&'static str]) -> Spec {
        self.secret_outputs = fields;
        self
    }
}
