//! Schemas: the typed inputs and outputs of a resource type, with a key per field.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Value;

/// A struct whose fields are a resource type's inputs or outputs. Derive it with
/// `#[derive(strake::typed::Schema)]`, next to serde's `Serialize` and `Deserialize`: each field
/// gets a typed key (`RoleInputs::NAME`), and [`Schema::FIELDS`] lists the fields for the checks
/// core applies (unknown properties, types, required fields, defaults).
pub trait Schema: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Every field, in declaration order.
    const FIELDS: &'static [FieldInfo];
    /// The rules declared on the fields (`#[strake(replace_on)]`, ...), which core applies.
    const RULES: Rules = Rules::NONE;

    /// The field called `name`, if the schema has one.
    fn field(name: &str) -> Option<&'static FieldInfo> {
        Self::FIELDS.iter().find(|f| f.name == name)
    }
}

/// What core knows of one field of a [`Schema`].
#[derive(Debug, Clone, Copy)]
pub struct FieldInfo {
    /// The property's name in inputs and outputs.
    pub name: &'static str,
    /// Whether a value must be given (not an `Option`, and without a default).
    pub required: bool,
    /// The field's documentation, for messages (`is required: <doc>`).
    pub doc: &'static str,
    /// Checks that a known value has the field's type; the error says what was expected.
    pub check: fn(&Value) -> Result<(), String>,
    /// The value an absent field takes, from `#[strake(default = ...)]`.
    pub default: Option<fn() -> Value>,
}

/// The rules declared on a schema's fields, by field name. Core applies them, so no type writes
/// them again. On inputs:
/// - `#[strake(replace_on)]`: the cloud cannot change the field in place, so a change replaces
///   the object (Terraform's `ForceNew`);
/// - `#[strake(unique)]`: the fields so marked together name the object uniquely in the cloud
///   (an IAM role's name, a bucket's name). A replacement that keeps them, or may keep them
///   (they are unknown at plan time), deletes the old object before creating the new one;
/// - `#[strake(generated_name = 64)]`: filled in with a stable generated name (`<resource
///   name>-<7 hex>`, at most that many characters) when the program leaves it out; once
///   recorded, the recorded name is kept;
/// - `#[strake(create_only)]`: only matters when the object is created, so changing it changes
///   nothing;
/// - `#[strake(internal)]`: only the program and the provider use it, never the cloud, so plans
///   do not show it as the object's property.
///
/// On outputs:
/// - `#[strake(secret)]`: recorded and shown as a secret;
/// - `#[strake(echo)]`: the value is the input of the same name, so a plan knows it as soon as
///   it knows the input (core previews it; the type's own preview need not).
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// Fields whose change replaces the object.
    pub replace_on: &'static [&'static str],
    /// Fields that together name the object uniquely in the cloud.
    pub unique: &'static [&'static str],
    /// The field generated when absent, and its longest length.
    pub generated_name: Option<(&'static str, usize)>,
    /// Fields that only matter at create.
    pub create_only: &'static [&'static str],
    /// Fields never sent to the cloud.
    pub internal: &'static [&'static str],
    /// Fields recorded and shown as secrets.
    pub secret: &'static [&'static str],
    /// Outputs that are the input of the same name.
    pub echo: &'static [&'static str],
}

impl Rules {
    /// No rules: every change is applied in place, and nothing is secret.
    pub const NONE: Rules = Rules { replace_on: &[], unique: &[], generated_name: None, create_only: &[], internal: &[], secret: &[], echo: &[] };

    /// Whether no field has a rule.
    pub const fn is_none(&self) -> bool {
        self.replace_on.is_empty()
            && self.unique.is_empty()
            && self.generated_name.is_none()
            && self.create_only.is_empty()
            && self.internal.is_empty()
            && self.secret.is_empty()
            && self.echo.is_empty()
    }
}

/// A typed key of one field of schema `S`, whose values are `T`: programs set inputs and read
/// outputs through keys, so a renamed or mistyped field is a compile error.
pub struct Field<S, T> {
    name: &'static str,
    _types: PhantomData<fn(S) -> T>,
}

impl<S, T> Field<S, T> {
    #[doc(hidden)]
    pub const fn new(name: &'static str) -> Self {
        Field { name, _types: PhantomData }
    }

    /// The property's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<S, T> Clone for Field<S, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S, T> Copy for Field<S, T> {}

impl<S, T> std::fmt::Debug for Field<S, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// Whether a known `value` deserializes into `T`; the error names what `T` takes.
pub fn check_type<T: DeserializeOwned>(value: &Value) -> Result<(), String> {
    if !value.is_known() {
        return Ok(());
    }
    match value.deserialize_into::<T>() {
        Ok(_) => Ok(()),
        Err(e) => Err(match expected(&e) {
            Some(expected) => format!("is {value}, but must be {expected}"),
            None => format!("is {value}, which does not fit: {e}"),
        }),
    }
}

/// "a string" from serde's "invalid type: integer `5`, expected a string".
fn expected(error: &str) -> Option<&str> {
    let (_, rest) = error.split_once(", expected ")?;
    let expected = rest.split(" at line ").next().unwrap_or(rest).trim();
    Some(match expected {
        "i8" | "i16" | "i32" | "i64" | "isize" | "u8" | "u16" | "u32" | "u64" | "usize" => "an integer",
        "f32" | "f64" => "a number",
        other => other,
    })
}

/// A typed value as a [`Value`].
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Value {
    match Value::serialize_from(value) {
        Ok(v) => v,
        Err(e) => panic!("a schema value always serializes: {e}"),
    }
}

/// Typed inputs as a [`Value`], with absent optional fields left out (as a program that does
/// not set them records them), not `null`.
pub fn inputs_value<T: Serialize + ?Sized>(value: &T) -> Value {
    match to_value(value) {
        Value::Map(mut map) => {
            map.retain(|_, v| !matches!(v, Value::Null));
            Value::Map(map)
        }
        other => other,
    }
}

/// A value of schema `S` whose fields may be absent or not known yet (at plan time): inputs as
/// checked, or outputs as previewed. Fields are read and written through their keys.
#[derive(Debug, Clone)]
pub struct Partial<S> {
    value: Value,
    _schema: PhantomData<fn() -> S>,
}

/// One field of a [`Partial`].
#[derive(Debug, Clone, PartialEq)]
pub enum Known<T> {
    /// Not set.
    Absent,
    /// Set, but known only after apply.
    Unknown,
    /// Set and known.
    Known(T),
}

impl<T> Known<T> {
    /// The value, if known.
    pub fn known(self) -> Option<T> {
        match self {
            Known::Known(v) => Some(v),
            _ => None,
        }
    }

    /// Whether the field is not set.
    pub fn is_absent(&self) -> bool {
        matches!(self, Known::Absent)
    }
}

impl<S: Schema> Partial<S> {
    /// Every field absent.
    pub fn new() -> Self {
        Partial::from_value(Value::map())
    }

    /// Wraps a value (a map of properties; anything else counts as every field unknown).
    pub fn from_value(value: Value) -> Self {
        Partial { value, _schema: PhantomData }
    }

    /// A complete value.
    pub fn from_typed(value: &S) -> Self {
        Partial::from_value(inputs_value(value))
    }

    /// The field's state; a value of the wrong type counts as absent (the type check reports it).
    pub fn get<T: DeserializeOwned>(&self, field: Field<S, T>) -> Known<T> {
        match self.raw(field.name) {
            None | Some(Value::Null) => Known::Absent,
            Some(v) if !v.is_known() => Known::Unknown,
            Some(v) => v.deserialize_into::<T>().map(Known::Known).unwrap_or(Known::Absent),
        }
    }

    /// The field's value, if set and known.
    pub fn known<T: DeserializeOwned>(&self, field: Field<S, T>) -> Option<T> {
        self.get(field).known()
    }

    /// Whether the field is set (known or not).
    pub fn is_set<T>(&self, field: Field<S, T>) -> bool {
        !matches!(self.raw(field.name), None | Some(Value::Null))
    }

    /// Sets a known value.
    pub fn set<T: Serialize>(&mut self, field: Field<S, T>, value: T) {
        self.set_raw(field.name, Some(to_value(&value)));
    }

    /// Sets a known value, marked secret when `secret` is (a value derived from a secret).
    pub fn set_secret_if<T: Serialize>(&mut self, field: Field<S, T>, value: T, secret: bool) {
        let value = to_value(&value);
        self.set_raw(field.name, Some(if secret { Value::Secret(Box::new(value)) } else { value }));
    }

    /// Sets the field to a dynamic value (unknown, secret or absent alike), e.g. one copied from
    /// a field of another schema.
    pub fn set_value<T>(&mut self, field: Field<S, T>, value: Option<Value>) {
        self.set_raw(field.name, value);
    }

    /// Whether any part of the field's value is secret.
    pub fn is_secret<T>(&self, field: Field<S, T>) -> bool {
        self.raw(field.name).is_some_and(Value::contains_secret)
    }

    /// Marks the field as known only after apply.
    pub fn set_unknown<T>(&mut self, field: Field<S, T>) {
        self.set_raw(field.name, Some(Value::Unknown));
    }

    /// Copies the field from `other` (a value, unknown or absent alike).
    pub fn copy<T>(&mut self, field: Field<S, T>, other: &Partial<S>) {
        self.set_raw(field.name, other.raw(field.name).cloned());
    }

    /// Removes the field.
    pub fn remove<T>(&mut self, field: Field<S, T>) {
        self.set_raw(field.name, None);
    }

    /// The whole value, if every field is known and it has the schema's shape.
    pub fn complete(&self) -> Option<S> {
        if !self.value.is_known() {
            return None;
        }
        self.value.deserialize_into::<S>().ok()
    }

    /// The raw property (for nested values the schema keeps untyped).
    pub fn raw(&self, name: &str) -> Option<&Value> {
        match &self.value {
            Value::Map(m) => m.get(name),
            _ => Some(&Value::Unknown),
        }
    }

    pub(crate) fn set_raw(&mut self, name: &str, value: Option<Value>) {
        if !matches!(self.value, Value::Map(_)) {
            self.value = Value::map();
        }
        self.value.set_path(name, value);
    }

    /// The underlying value.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The underlying value, taken out (e.g. to return a preview as the engine's [`Value`]).
    pub fn into_value(self) -> Value {
        self.value
    }
}

impl<S: Schema> Default for Partial<S> {
    fn default() -> Self {
        Partial::new()
    }
}
