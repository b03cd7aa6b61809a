//! [`Output<T>`]: a value that may be known only after apply.
//!
//! An output is a lazy expression over other resources' outputs. It carries the URNs it depends on
//! (the edges of the graph), and when evaluated against an [`Env`] it yields its value or "unknown",
//! plus whether the value is secret. The planner evaluates outputs against what is known at plan
//! time (prior state, data sources); the executor evaluates them again once their dependencies have
//! been applied.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Urn, Value};

/// Where outputs find the outputs of the resources they depend on.
pub trait Env {
    /// The outputs of `urn`, or `None` when they are not known (yet).
    fn resource_outputs(&self, urn: &Urn) -> Option<&Value>;
}

impl Env for BTreeMap<Urn, Value> {
    fn resource_outputs(&self, urn: &Urn) -> Option<&Value> {
        self.get(urn)
    }
}

impl Env for std::collections::HashMap<Urn, Value> {
    fn resource_outputs(&self, urn: &Urn) -> Option<&Value> {
        self.get(urn)
    }
}

/// An environment in which nothing is known yet.
pub struct EmptyEnv;

impl Env for EmptyEnv {
    fn resource_outputs(&self, _: &Urn) -> Option<&Value> {
        None
    }
}

/// The result of evaluating an output.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved<T> {
    /// `None` when unknown.
    pub value: Option<T>,
    /// Whether the value derives from a secret.
    pub secret: bool,
}

impl<T> Resolved<T> {
    fn unknown(secret: bool) -> Self {
        Resolved { value: None, secret }
    }
}

/// A value that is wrong in shape (e.g. a provider returned a number where a string was expected).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OutputError(pub String);

type EvalFn<T> = dyn Fn(&dyn Env) -> Result<Resolved<T>, OutputError> + Send + Sync;

/// A value of type `T` that may be unknown until apply, with its dependencies and secret flag.
///
/// ```
/// use strake::Output;
/// use strake::output::EmptyEnv;
///
/// let bucket = Output::new("logs".to_string());
/// let arn = bucket.map(|b| format!("arn:aws:s3:::{b}"));
/// assert_eq!(arn.resolve(&EmptyEnv).unwrap().value.as_deref(), Some("arn:aws:s3:::logs"));
///
/// // Unknown until apply (an id the cloud assigns): what derives from it is unknown at plan time.
/// let id = Output::<String>::unknown();
/// assert_eq!(id.zip(&arn).resolve(&EmptyEnv).unwrap().value, None);
///
/// // A secret stays secret through `map`.
/// let length = Output::secret("t0ken".to_string()).map(|t| t.len());
/// let resolved = length.resolve(&EmptyEnv).unwrap();
/// assert_eq!((resolved.value, resolved.secret), (Some(5), true));
/// ```
pub struct Output<T> {
    /// Sorted, without repeats. A slice rather than a set: a large program holds one per input
    /// that waits on another resource, and a set's node is about 190 bytes for a single URN.
    deps: Arc<[Urn]>,
    eval: Arc<EvalFn<T>>,
}

impl<T> Clone for Output<T> {
    fn clone(&self) -> Self {
        Output { deps: self.deps.clone(), eval: self.eval.clone() }
    }
}

impl<T> fmt::Debug for Output<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Output").field("dependencies", &self.deps).finish_non_exhaustive()
    }
}

impl<T: Clone + Send + Sync + 'static> Output<T> {
    /// A known, non-secret value.
    pub fn new(value: T) -> Self {
        Self::from_parts(BTreeSet::new(), move |_| Ok(Resolved { value: Some(value.clone()), secret: false }))
    }

    /// A known value that is never printed.
    pub fn secret(value: T) -> Self {
        Self::from_parts(BTreeSet::new(), move |_| Ok(Resolved { value: Some(value.clone()), secret: true }))
    }

    /// A value unknown until apply (mostly for tests).
    pub fn unknown() -> Self {
        Self::from_parts(BTreeSet::new(), |_| Ok(Resolved::unknown(false)))
    }
}

impl<T: Send + Sync + 'static> Output<T> {
    fn from_parts(deps: BTreeSet<Urn>, eval: impl Fn(&dyn Env) -> Result<Resolved<T>, OutputError> + Send + Sync + 'static) -> Self {
        Output { deps: deps.into_iter().collect(), eval: Arc::new(eval) }
    }

    /// An output with the same dependencies as this one (shared, not copied), evaluated by `eval`.
    fn derived<U>(&self, eval: impl Fn(&dyn Env) -> Result<Resolved<U>, OutputError> + Send + Sync + 'static) -> Output<U> {
        Output { deps: self.deps.clone(), eval: Arc::new(eval) }
    }

    /// The resources this value depends on, sorted, each once.
    pub fn dependencies(&self) -> &[Urn] {
        &self.deps
    }

    /// Evaluates the value against what `env` knows.
    pub fn resolve(&self, env: &dyn Env) -> Result<Resolved<T>, OutputError> {
        (self.eval)(env)
    }

    /// Transforms the value once it is known.
    pub fn map<U: Send + Sync + 'static>(&self, f: impl Fn(T) -> U + Send + Sync + 'static) -> Output<U> {
        let eval = self.eval.clone();
        self.derived(move |env| {
            let r = eval(env)?;
            Ok(Resolved { value: r.value.map(&f), secret: r.secret })
        })
    }

    /// Marks the value secret.
    pub fn into_secret(self) -> Output<T> {
        let eval = self.eval.clone();
        self.derived(move |env| {
            let r = eval(env)?;
            Ok(Resolved { value: r.value, secret: true })
        })
    }

    /// Combines two outputs; known when both are.
    pub fn zip<U: Send + Sync + 'static>(&self, other: &Output<U>) -> Output<(T, U)> {
        let (a, b) = (self.eval.clone(), other.eval.clone());
        let deps = self.deps.iter().chain(other.deps.iter()).cloned().collect();
        Output::from_parts(deps, move |env| {
            let (ra, rb) = (a(env)?, b(env)?);
            let secret = ra.secret || rb.secret;
            Ok(Resolved { value: ra.value.zip(rb.value), secret })
        })
    }

    /// Combines many outputs into one list; known when all are.
    pub fn all(outputs: impl IntoIterator<Item = Output<T>>) -> Output<Vec<T>> {
        let outputs: Vec<Output<T>> = outputs.into_iter().collect();
        let deps = outputs.iter().flat_map(|o| o.deps.iter().cloned()).collect();
        Output::from_parts(deps, move |env| {
            let mut values = Vec::with_capacity(outputs.len());
            let mut secret = false;
            let mut known = true;
            for o in &outputs {
                let r = o.resolve(env)?;
                secret |= r.secret;
                match r.value {
                    Some(v) if known => values.push(v),
                    _ => known = false,
                }
            }
            Ok(Resolved { value: known.then_some(values), secret })
        })
    }

    /// Adds dependencies without changing the value (used for explicit `depends_on`).
    pub fn with_dependencies(&self, extra: impl IntoIterator<Item = Urn>) -> Output<T> {
        let deps: BTreeSet<Urn> = self.deps.iter().cloned().chain(extra).collect();
        Output { deps: deps.into_iter().collect(), eval: self.eval.clone() }
    }
}

impl<T: Serialize + Send + Sync + 'static> Output<T> {
    /// Converts to a dynamic [`Value`] (secret values are wrapped in [`Value::Secret`];
    /// unknown values become [`Value::Unknown`]).
    pub fn into_value(&self) -> Output<Value> {
        let eval = self.eval.clone();
        self.derived(move |env| {
            let r = eval(env)?;
            let value = match r.value {
                Some(v) => {
                    let v = Value::serialize_from(&v).map_err(OutputError)?;
                    if r.secret { Value::Secret(Box::new(v)) } else { v }
                }
                None => Value::Unknown,
            };
            Ok(Resolved { value: Some(value), secret: r.secret })
        })
    }
}

impl Output<Value> {
    /// The output property at `path` (dotted) of the resource `urn`.
    pub fn property(urn: &Urn, path: &str) -> Output<Value> {
        let (urn, path) = (urn.clone(), path.to_string());
        Output::from_parts(BTreeSet::from([urn.clone()]), move |env| {
            let Some(outputs) = env.resource_outputs(&urn) else { return Ok(Resolved::unknown(false)) };
            let value = if path.is_empty() { Some(outputs) } else { outputs.get_path(&path) };
            match value {
                None | Some(Value::Unknown) => Ok(Resolved::unknown(false)),
                Some(v) => Ok(Resolved { value: Some(v.clone()), secret: v.contains_secret() }),
            }
        })
    }

    /// Deserializes into `T`; unknown while any part of the value is unknown.
    pub fn typed<T: DeserializeOwned + Send + Sync + 'static>(&self) -> Output<T> {
        let eval = self.eval.clone();
        let what = self.deps.iter().map(Urn::to_string).collect::<Vec<_>>().join(", ");
        self.derived(move |env| {
            let r = eval(env)?;
            match r.value {
                Some(v) if v.is_known() => {
                    let typed = v.deserialize_into::<T>().map_err(|e| OutputError(format!("an output of {what} has an unexpected shape: {e}")))?;
                    Ok(Resolved { value: Some(typed), secret: r.secret || v.contains_secret() })
                }
                _ => Ok(Resolved::unknown(r.secret)),
            }
        })
    }

    /// Evaluates to a [`Value`], mapping "unknown" to [`Value::Unknown`] and secrets to [`Value::Secret`].
    pub fn resolve_value(&self, env: &dyn Env) -> Result<Value, OutputError> {
        let r = self.resolve(env)?;
        Ok(match r.value {
            None => Value::Unknown,
            Some(v) if r.secret && !v.contains_secret() => Value::Secret(Box::new(v)),
            Some(v) => v,
        })
    }
}

impl<T: Clone + Send + Sync + 'static> From<T> for Output<T> {
    fn from(value: T) -> Self {
        Output::new(value)
    }
}

impl From<&str> for Output<String> {
    fn from(value: &str) -> Self {
        Output::new(value.to_string())
    }
}

impl From<&String> for Output<String> {
    fn from(value: &String) -> Self {
        Output::new(value.clone())
    }
}

impl<T> From<&Output<T>> for Output<T> {
    fn from(value: &Output<T>) -> Self {
        value.clone()
    }
}

impl From<&str> for Output<Value> {
    fn from(value: &str) -> Self {
        Output::new(Value::from(value))
    }
}

impl From<serde_json::Value> for Output<Value> {
    fn from(value: serde_json::Value) -> Self {
        Output::new(Value::from_json(value))
    }
}

impl From<Output<String>> for Output<Value> {
    fn from(value: Output<String>) -> Self {
        value.into_value()
    }
}

impl From<&Output<String>> for Output<Value> {
    fn from(value: &Output<String>) -> Self {
        value.into_value()
    }
}

/// Anything that can stand as an argument of [`format_output!`](crate::format_output).
pub trait FormatArg {
    /// The argument as an output of its `Display` text.
    fn into_output_string(self) -> Output<String>;
}

impl<T: fmt::Display + ?Sized> FormatArg for &T {
    fn into_output_string(self) -> Output<String> {
        Output::new(self.to_string())
    }
}

impl<T: fmt::Display + Send + Sync + 'static> FormatArg for &Output<T> {
    fn into_output_string(self) -> Output<String> {
        self.map(|v| v.to_string())
    }
}

/// `format!` over outputs: `format_output!("{}/*", bucket_arn)` is an `Output<String>`.
/// Placeholders are positional `{}`, one per argument. Arguments are taken by reference, so pass
/// outputs and plain `Display` values by name (not `&name`).
#[macro_export]
macro_rules! format_output {
    ($fmt:literal $(, $arg:expr)* $(,)?) => {{
        let parts = $crate::Output::all(vec![$( $crate::FormatArg::into_output_string(&$arg) ),*]);
        parts.map(move |parts| {
            #[allow(unused_mut, unused_variables)]
            let mut it = parts.into_iter();
            format!($fmt $(, { let _ = stringify!($arg); it.next().unwrap_or_default() })*)
        })
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_with(urn: &Urn, outputs: Value) -> BTreeMap<Urn, Value> {
        BTreeMap::from([(urn.clone(), outputs)])
    }

    #[test]
    fn property_is_unknown_until_the_resource_has_outputs() {
        let urn = Urn::new("s", "t:m:R", "a");
        let arn = Output::property(&urn, "arn").typed::<String>();
        assert_eq!(arn.dependencies(), std::slice::from_ref(&urn));
        assert_eq!(arn.resolve(&EmptyEnv).unwrap().value, None);
        let env = env_with(&urn, crate::value!({"arn": "arn:x"}));
        assert_eq!(arn.resolve(&env).unwrap().value.as_deref(), Some("arn:x"));
    }

    #[test]
    fn combinators_merge_dependencies_and_secrecy() {
        let a = Urn::new("s", "t:m:R", "a");
        let b = Urn::new("s", "t:m:R", "b");
        let pa = Output::property(&a, "v").typed::<String>();
        let pb = Output::property(&b, "v").typed::<String>().into_secret();
        let joined = crate::format_output!("{}-{}/{}", pa, pb, 7);
        assert_eq!(joined.dependencies(), BTreeSet::from([a.clone(), b.clone()]).into_iter().collect::<Vec<_>>());
        let mut env = env_with(&a, crate::value!({"v": "x"}));
        assert_eq!(joined.resolve(&env).unwrap(), Resolved { value: None, secret: true });
        env.insert(b, crate::value!({"v": "y"}));
        assert_eq!(joined.resolve(&env).unwrap(), Resolved { value: Some("x-y/7".to_string()), secret: true });
        assert_eq!(joined.into_value().resolve_value(&env).unwrap(), Value::Secret(Box::new("x-y/7".into())));
    }

    #[test]
    fn shape_errors_name_the_resource() {
        let urn = Urn::new("s", "t:m:R", "a");
        let env = env_with(&urn, crate::value!({"arn": 5}));
        let err = Output::property(&urn, "arn").typed::<String>().resolve(&env).unwrap_err();
        assert!(err.0.contains("urn:strake:s::t:m:R::a"), "{err}");
    }
}
