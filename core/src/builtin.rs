//! The built-in `strake` package: the [`Data`] resource (like Terraform's `terraform_data`).

use std::sync::Arc;

use async_trait::async_trait;

use crate::program::{Resource, ResourceHandle, Stack};
use crate::provider::*;
use crate::{Output, Value};

/// The built-in package's name.
pub const PACKAGE: &str = "strake";
/// The type token of [`Data`].
pub const DATA_TYPE: &str = "strake:index:Data";

/// Stores its input and returns it as `output`; replaced whenever `triggers_replace` changes.
/// Lives only in state, so it is free to create: useful to sequence or to carry values.
#[derive(Clone)]
pub struct Data(Resource);

impl Data {
    /// Declares a `Data` resource named `name` that stores `input`.
    #[track_caller]
    pub fn new(stack: &Stack, name: &str, input: impl Into<Output<Value>>) -> Data {
        let resource = stack.resource(DATA_TYPE, name);
        resource.set_input("input", input);
        Data(resource)
    }

    /// Replace this resource whenever the value changes.
    pub fn triggers_replace(self, value: impl Into<Output<Value>>) -> Self {
        self.0.set_input("triggers_replace", value);
        self
    }

    /// The stored input, known after apply (or at plan time when the input is).
    pub fn output(&self) -> Output<Value> {
        self.0.output("output")
    }
}

impl ResourceHandle for Data {
    fn resource(&self) -> &Resource {
        &self.0
    }
}

/// The provider behind the `strake` package. Needs no configuration.
pub(crate) struct BuiltinProvider;

fn data_outputs(inputs: &Value) -> Value {
    Value::from_pairs([("output", inputs.get("input").cloned().unwrap_or(Value::Null))])
}

#[async_trait]
impl Provider for BuiltinProvider {
    /// A Data object exists only in state: an interrupted step acted nowhere else.
    fn created_lookup(&self, _type_token: &str) -> CreatedLookup {
        CreatedLookup::StateOnly
    }

    fn check(&self, req: CheckRequest) -> CheckResponse {
        let mut failures = Vec::new();
        if req.type_token != DATA_TYPE {
            failures.push(CheckFailure::new("", format!("the strake package has no type `{}`", req.type_token)));
        }
        if let Value::Map(m) = &req.inputs {
            for key in m.keys().filter(|k| !matches!(k.as_str(), "input" | "triggers_replace")) {
                failures.push(CheckFailure::new(key.clone(), "unknown property; Data takes `input` and `triggers_replace`"));
            }
        }
        CheckResponse { inputs: req.inputs, failures, warnings: Vec::new() }
    }

    fn diff(&self, req: DiffRequest) -> DiffResponse {
        let changes = crate::diff::changed_properties(&req.old_inputs, &req.new_inputs);
        let replaces = changes.iter().filter(|c| *c == "triggers_replace").cloned().collect();
        DiffResponse { changes, replaces, delete_before_replace: false }
    }

    fn preview(&self, req: PreviewRequest) -> Value {
        data_outputs(&req.inputs)
    }

    async fn create(&self, req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        Ok(CreateResponse { id: uuid::Uuid::new_v4().to_string(), outputs: data_outputs(&req.inputs) })
    }

    async fn read(&self, req: ReadRequest) -> Result<ReadResponse, ProviderError> {
        // A Data object exists only in state: with an id it is what state says; without one
        // (an interrupted create) nothing was made.
        Ok(match req.id {
            Some(id) => ReadResponse::Found { id, inputs: req.inputs, outputs: req.outputs },
            None => ReadResponse::Gone,
        })
    }

    async fn update(&self, req: UpdateRequest) -> Result<UpdateResponse, ProviderError> {
        Ok(UpdateResponse { outputs: data_outputs(&req.compared.new_inputs) })
    }

    async fn delete(&self, _req: DeleteRequest) -> Result<(), ProviderError> {
        Ok(())
    }
}

/// Configures the built-in provider (it takes no configuration).
pub(crate) struct BuiltinFactory;

#[async_trait]
impl ProviderFactory for BuiltinFactory {
    fn package(&self) -> &str {
        PACKAGE
    }

    async fn configure(&self, _config: Value) -> Result<Arc<dyn Provider>, ProviderError> {
        Ok(Arc::new(BuiltinProvider))
    }
}
