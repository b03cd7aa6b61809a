//! The one generic [`Provider`]: a context plus a [`Registry`] of typed types, dispatched by
//! type token. Converting between the engine's [`Value`]s and the typed structs happens here.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use super::check::Check;
use super::schema::{Partial, Rules, Schema, inputs_value, to_value};
use super::{Create, DataSourceType, Delete, ProviderContext, Read, Recorded, ResourceType, Update};
use crate::diff::{changed_properties, same};
use crate::provider::*;
use crate::{Urn, Value};

/// The types of one package, listed as data: `Registry::new("aws").resource(RoleType)...`.
pub struct Registry<C> {
    package: &'static str,
    types: BTreeMap<&'static str, Box<dyn Erased<C>>>,
}

impl<C: Send + Sync + 'static> Registry<C> {
    /// An empty registry of the package whose type tokens start with `<package>:`.
    pub fn new(package: &'static str) -> Self {
        Registry { package, types: BTreeMap::new() }
    }

    /// Adds a managed resource type.
    pub fn resource<R: ResourceType<Context = C>>(self, resource: R) -> Self {
        rules_on_their_side::<R::Inputs, R::Outputs>(R::SPEC.type_token);
        self.add(R::SPEC.type_token, Box::new(AsResource(resource)))
    }

    /// Adds a data source.
    pub fn data_source<D: DataSourceType<Context = C>>(self, source: D) -> Self {
        self.add(D::TYPE, Box::new(AsDataSource(source)))
    }

    fn add(mut self, type_token: &'static str, erased: Box<dyn Erased<C>>) -> Self {
        assert!(
            type_token.strip_prefix(self.package).is_some_and(|rest| rest.starts_with(':')),
            "type `{type_token}` is not of package `{}`",
            self.package
        );
        assert!(self.types.insert(type_token, erased).is_none(), "type `{type_token}` is registered twice");
        self
    }

    /// The package's name.
    pub fn package(&self) -> &'static str {
        self.package
    }

    /// Whether the package has the type.
    pub fn has(&self, type_token: &str) -> bool {
        self.types.contains_key(type_token)
    }

    /// Every type token, sorted.
    pub fn type_tokens(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.types.keys().copied()
    }

    fn get(&self, type_token: &str) -> Result<&dyn Erased<C>, ProviderError> {
        self.types.get(type_token).map(|b| b.as_ref()).ok_or_else(|| self.no_such_type(type_token))
    }

    fn no_such_type(&self, type_token: &str) -> ProviderError {
        let near = crate::suggest::closest(type_token, self.types.keys().copied());
        let hint = near.map(|n| format!("; did you mean `{n}`?")).unwrap_or_default();
        ProviderError::permanent(format!("the {} package has no type `{type_token}`{hint}", self.package))
    }
}

/// A configured provider of one package: its context (clients, account, cluster) and its types.
pub struct TypedProvider<C> {
    context: C,
    types: Arc<Registry<C>>,
}

impl<C: ProviderContext> TypedProvider<C> {
    /// A configured provider of these types, whose operations are all handed `context`.
    pub fn new(context: C, types: Arc<Registry<C>>) -> Self {
        TypedProvider { context, types }
    }

    /// The configured context.
    pub fn context(&self) -> &C {
        &self.context
    }
}

#[async_trait]
impl<C: ProviderContext> Provider for TypedProvider<C> {
    fn created_lookup(&self, type_token: &str) -> CreatedLookup {
        self.types.get(type_token).map(|t| t.created_lookup()).unwrap_or(CreatedLookup::FromInputs)
    }

    fn target(&self) -> Option<Target> {
        self.context.target()
    }

    fn claim(&self, type_token: &str, inputs: &Value) -> Option<String> {
        self.types.get(type_token).ok()?.claim(&self.context, inputs)
    }

    fn internal_inputs(&self, type_token: &str) -> &'static [&'static str] {
        self.types.get(type_token).map(|t| t.internal()).unwrap_or(&[])
    }

    fn schema_version(&self, type_token: &str) -> u32 {
        self.types.get(type_token).map(|t| t.version()).unwrap_or(0)
    }

    fn upgrade(&self, req: UpgradeRequest) -> Result<UpgradeResponse, ProviderError> {
        let t = self.types.get(&req.type_token)?;
        let upgraded = t.upgrade(req.from_version, Recorded { inputs: req.inputs, outputs: req.outputs }).map_err(|e| {
            ProviderError::permanent(format!("the record of `{}` (schema version {}) cannot be upgraded: {e}", req.urn, req.from_version))
        })?;
        Ok(UpgradeResponse { inputs: upgraded.inputs, outputs: upgraded.outputs })
    }

    async fn preflight(&self, req: PreflightRequest) -> Result<(), ProviderError> {
        self.context.preflight(req).await
    }

    fn check(&self, req: CheckRequest) -> CheckResponse {
        match self.types.get(&req.type_token) {
            Ok(t) => t.check(&self.context, req),
            Err(e) => CheckResponse { failures: vec![CheckFailure::new("", e.message)], inputs: req.inputs, warnings: Vec::new() },
        }
    }

    fn diff(&self, req: DiffRequest) -> DiffResponse {
        match self.types.get(&req.type_token) {
            Ok(t) => t.diff(&req),
            Err(_) => DiffResponse::default(),
        }
    }

    fn preview(&self, req: PreviewRequest) -> Value {
        match self.types.get(&req.type_token) {
            Ok(t) => t.preview(&self.context, req),
            Err(_) => Value::Unknown,
        }
    }

    async fn create(&self, req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        let t = self.types.get(&req.type_token)?;
        self.context.scope(t.create(&self.context, req)).await
    }

    async fn read(&self, req: ReadRequest) -> Result<ReadResponse, ProviderError> {
        let t = self.types.get(&req.type_token)?;
        self.context.scope(t.read(&self.context, req)).await
    }

    async fn update(&self, req: UpdateRequest) -> Result<UpdateResponse, ProviderError> {
        let t = self.types.get(&req.compared.type_token)?;
        self.context.scope(t.update(&self.context, req)).await
    }

    async fn delete(&self, req: DeleteRequest) -> Result<(), ProviderError> {
        let t = self.types.get(&req.type_token)?;
        self.context.scope(t.delete(&self.context, req)).await
    }
}

/// One type behind the untyped provider contract.
#[async_trait]
trait Erased<C>: Send + Sync {
    fn created_lookup(&self) -> CreatedLookup;
    fn version(&self) -> u32;
    fn upgrade(&self, from: u32, recorded: Recorded) -> Result<Recorded, String>;
    fn internal(&self) -> &'static [&'static str];
    fn claim(&self, ctx: &C, inputs: &Value) -> Option<String>;
    fn check(&self, ctx: &C, req: CheckRequest) -> CheckResponse;
    fn diff(&self, req: &DiffRequest) -> DiffResponse;
    fn preview(&self, ctx: &C, req: PreviewRequest) -> Value;
    async fn create(&self, ctx: &C, req: CreateRequest) -> Result<CreateResponse, ProviderError>;
    async fn read(&self, ctx: &C, req: ReadRequest) -> Result<ReadResponse, ProviderError>;
    async fn update(&self, ctx: &C, req: UpdateRequest) -> Result<UpdateResponse, ProviderError>;
    async fn delete(&self, ctx: &C, req: DeleteRequest) -> Result<(), ProviderError>;
}

struct AsResource<R>(R);

struct AsDataSource<D>(D);

/// Stops a registry whose type marks a rule on the wrong side: `secret` is for outputs (an input
/// is secret when the program gives a secret), the others for inputs.
pub(crate) fn rules_on_their_side<I: Schema, O: Schema>(type_token: &str) {
    assert!(I::RULES.secret.is_empty(), "type `{type_token}`: `secret` marks outputs; an input is secret when the program gives a secret");
    if std::any::TypeId::of::<I>() == std::any::TypeId::of::<O>() {
        assert!(I::RULES.echo.is_empty(), "type `{type_token}`: outputs that are the inputs echo them all already");
        return;
    }
    assert!(I::RULES.echo.is_empty(), "type `{type_token}`: `echo` marks outputs that are the input of the same name");
    assert!(
        Rules { secret: &[], echo: &[], ..O::RULES }.is_none(),
        "type `{type_token}`: outputs take only `secret` and `echo`; the other rules are about inputs"
    );
    for name in O::RULES.echo {
        assert!(I::field(name).is_some(), "type `{type_token}`: output `{name}` is marked `echo`, but there is no input `{name}`");
    }
}

/// Typed inputs from the engine's known ones (secrets revealed). Checked inputs always fit;
/// this fails only for a record the type's schema no longer describes.
fn typed<S: Schema>(value: &Value, urn: &Urn, what: &str) -> Result<S, ProviderError> {
    let empty = Value::map();
    let value = if matches!(value, Value::Null) { &empty } else { value };
    value.deserialize_into::<S>().map_err(|e| ProviderError::permanent(format!("the {what} of `{urn}` do not fit its type's schema: {e}")))
}

/// Typed recorded values, if they fit (records of older providers may not).
fn typed_opt<S: Schema>(value: &Value) -> Option<S> {
    match value {
        Value::Null => None,
        v => v.deserialize_into::<S>().ok(),
    }
}

/// Outputs as recorded: the fields declared secret marked secret.
fn outputs_value<O: Schema>(outputs: &O) -> Value {
    let mut value = to_value(outputs);
    for name in O::RULES.secret {
        if let Some(v) = value.get(name).cloned() {
            value.set_path(name, Some(Value::Secret(Box::new(v))));
        }
    }
    value
}

/// Read-back inputs with every property that was recorded as a secret marked secret again (the
/// typed values carry no marks), so a secret never reads as drift, nor as plain text.
fn still_secret(mut read: Value, recorded: &Value) -> Value {
    if let Value::Map(map) = &mut read {
        for (key, value) in map.iter_mut() {
            if recorded.get(key).is_some_and(Value::contains_secret) && !value.contains_secret() {
                *value = Value::Secret(Box::new(std::mem::take(value)));
            }
        }
    }
    read
}

/// The inputs' declared replacement rules applied to a change of inputs.
pub(crate) fn rules_diff(rules: &Rules, old: &Value, new: &Value) -> DiffResponse {
    let changes: Vec<String> = changed_properties(old, new).into_iter().filter(|c| !rules.create_only.contains(&c.as_str())).collect();
    let replaces: Vec<String> = changes.iter().filter(|c| rules.replace_on.contains(&c.as_str())).cloned().collect();
    // The old object must go first unless the new one surely has another unique name: known,
    // and different in at least one part.
    let surely_differs =
        rules.unique.iter().all(|f| new.get(f).is_none_or(Value::is_known)) && rules.unique.iter().any(|f| !same(old.get(f), new.get(f)));
    let delete_before_replace = !replaces.is_empty() && !rules.unique.is_empty() && !surely_differs;
    DiffResponse { changes, replaces, delete_before_replace }
}

#[async_trait]
impl<R: ResourceType> Erased<R::Context> for AsResource<R> {
    fn created_lookup(&self) -> CreatedLookup {
        R::SPEC.created_lookup
    }

    fn version(&self) -> u32 {
        R::SPEC.version
    }

    fn upgrade(&self, from: u32, recorded: Recorded) -> Result<Recorded, String> {
        self.0.upgrade(from, recorded)
    }

    fn internal(&self) -> &'static [&'static str] {
        R::Inputs::RULES.internal
    }

    fn claim(&self, ctx: &R::Context, inputs: &Value) -> Option<String> {
        self.0.claim(ctx, &Partial::from_value(inputs.clone()))
    }

    fn check(&self, ctx: &R::Context, req: CheckRequest) -> CheckResponse {
        let mut check = Check::<R::Inputs>::new(req.urn, req.inputs, req.prior_inputs);
        check.apply_schema(R::SPEC.type_token, &R::Inputs::RULES);
        self.0.check(ctx, &mut check);
        check.require_fields();
        check.finish()
    }

    fn diff(&self, req: &DiffRequest) -> DiffResponse {
        rules_diff(&R::Inputs::RULES, &req.old_inputs, &req.new_inputs)
    }

    fn preview(&self, ctx: &R::Context, req: PreviewRequest) -> Value {
        let inputs = Partial::from_value(req.inputs);
        let prior = req.prior_outputs.map(Partial::from_value);
        let previewed = self.0.preview(ctx, &inputs, prior.as_ref());
        let echoed = R::Outputs::RULES.echo.iter().filter_map(|name| Some((*name, inputs.raw(name)?.clone()))).collect::<Vec<_>>();
        if previewed.is_none() && echoed.is_empty() {
            return Value::Unknown;
        }
        let mut outputs = previewed.unwrap_or_default();
        for (name, value) in echoed {
            outputs.set_raw(name, Some(value));
        }
        outputs.into_value()
    }

    async fn create(&self, ctx: &R::Context, req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        let inputs: R::Inputs = typed(&req.inputs, &req.urn, "inputs")?;
        let created = self.0.create(ctx, Create { urn: &req.urn, inputs: &inputs, timeout: req.timeout }).await?;
        Ok(CreateResponse { id: created.id, outputs: outputs_value(&created.outputs) })
    }

    async fn read(&self, ctx: &R::Context, req: ReadRequest) -> Result<ReadResponse, ProviderError> {
        let (inputs, outputs) = (typed_opt::<R::Inputs>(&req.inputs), typed_opt::<R::Outputs>(&req.outputs));
        let read = Read { urn: &req.urn, id: req.id.as_deref(), inputs: inputs.as_ref(), outputs: outputs.as_ref() };
        Ok(match self.0.read(ctx, read).await? {
            Some(found) => ReadResponse::Found {
                id: found.id,
                inputs: still_secret(inputs_value(&found.inputs), &req.inputs),
                outputs: outputs_value(&found.outputs),
            },
            None => ReadResponse::Gone,
        })
    }

    async fn update(&self, ctx: &R::Context, req: UpdateRequest) -> Result<UpdateResponse, ProviderError> {
        let c = &req.compared;
        let old: R::Inputs = typed(&c.old_inputs, &c.urn, "recorded inputs")?;
        let new: R::Inputs = typed(&c.new_inputs, &c.urn, "inputs")?;
        let old_outputs = typed_opt::<R::Outputs>(&c.old_outputs);
        let update =
            Update { urn: &c.urn, id: &c.id, old: &old, new: &new, old_outputs: old_outputs.as_ref(), changes: &req.changes, timeout: req.timeout };
        let outputs = self.0.update(ctx, update).await?;
        Ok(UpdateResponse { outputs: outputs_value(&outputs) })
    }

    async fn delete(&self, ctx: &R::Context, req: DeleteRequest) -> Result<(), ProviderError> {
        let inputs: R::Inputs = typed(&req.inputs, &req.urn, "recorded inputs")?;
        let outputs = typed_opt::<R::Outputs>(&req.outputs);
        self.0.delete(ctx, Delete { urn: &req.urn, id: &req.id, inputs: &inputs, outputs: outputs.as_ref(), timeout: req.timeout }).await
    }
}

fn read_only(type_token: &str) -> ProviderError {
    ProviderError::permanent(format!("`{type_token}` is a data source: it is only read, never created, updated or deleted"))
}

#[async_trait]
impl<D: DataSourceType> Erased<D::Context> for AsDataSource<D> {
    fn created_lookup(&self) -> CreatedLookup {
        CreatedLookup::FromInputs
    }

    fn version(&self) -> u32 {
        0
    }

    fn upgrade(&self, _from: u32, recorded: Recorded) -> Result<Recorded, String> {
        Ok(recorded)
    }

    fn internal(&self) -> &'static [&'static str] {
        &[]
    }

    fn claim(&self, _ctx: &D::Context, _inputs: &Value) -> Option<String> {
        None
    }

    fn check(&self, ctx: &D::Context, req: CheckRequest) -> CheckResponse {
        let mut check = Check::<D::Inputs>::new(req.urn, req.inputs, None);
        check.apply_schema(D::TYPE, &Rules::NONE);
        self.0.check(ctx, &mut check);
        check.require_fields();
        check.finish()
    }

    fn diff(&self, req: &DiffRequest) -> DiffResponse {
        rules_diff(&Rules::NONE, &req.old_inputs, &req.new_inputs)
    }

    fn preview(&self, _ctx: &D::Context, _req: PreviewRequest) -> Value {
        Value::Unknown
    }

    async fn create(&self, _ctx: &D::Context, _req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        Err(read_only(D::TYPE))
    }

    async fn read(&self, ctx: &D::Context, req: ReadRequest) -> Result<ReadResponse, ProviderError> {
        let inputs: D::Inputs = typed(&req.inputs, &req.urn, "inputs")?;
        Ok(match self.0.read(ctx, &inputs).await? {
            Some(found) => ReadResponse::Found { id: found.id, inputs: req.inputs, outputs: outputs_value(&found.outputs) },
            None => ReadResponse::Gone,
        })
    }

    async fn update(&self, _ctx: &D::Context, _req: UpdateRequest) -> Result<UpdateResponse, ProviderError> {
        Err(read_only(D::TYPE))
    }

    async fn delete(&self, _ctx: &D::Context, _req: DeleteRequest) -> Result<(), ProviderError> {
        Err(read_only(D::TYPE))
    }
}
