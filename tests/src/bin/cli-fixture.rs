//! A small Strake program used by the CLI tests (`tests/tests/cli.rs`): `Data` resources shaped by
//! configuration, plus `Sleep` resources whose create takes `sleep_ms`, to hold an apply open
//! (with `secret` set, each holds it as an input, so their pending operations hold it too).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use strake::prelude::*;
use strake::provider::*;

/// Creates take `delay_ms`; nothing exists outside state.
struct SleepProvider;

#[async_trait]
impl Provider for SleepProvider {
    fn created_lookup(&self, _type_token: &str) -> CreatedLookup {
        CreatedLookup::FromInputs
    }

    async fn create(&self, req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        let ms = req.inputs.get("delay_ms").and_then(|v| v.deserialize_into::<u64>().ok()).unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok(CreateResponse::new(req.urn.name().to_string(), req.inputs))
    }

    async fn read(&self, req: ReadRequest) -> Result<ReadResponse, ProviderError> {
        Ok(match req.id {
            Some(id) => ReadResponse::found(id, req.inputs, req.outputs),
            None => ReadResponse::Gone,
        })
    }

    async fn update(&self, req: UpdateRequest) -> Result<UpdateResponse, ProviderError> {
        Ok(UpdateResponse::new(req.compared.new_inputs))
    }

    async fn delete(&self, _req: DeleteRequest) -> Result<(), ProviderError> {
        Ok(())
    }
}

struct SleepFactory;

#[async_trait]
impl ProviderFactory for SleepFactory {
    fn package(&self) -> &str {
        "sleep"
    }

    async fn configure(&self, _config: Value) -> Result<Arc<dyn Provider>, ProviderError> {
        Ok(Arc::new(SleepProvider))
    }
}

struct SleepConfig;

impl ProviderConfig for SleepConfig {
    fn config(&self) -> Output<Value> {
        Output::new(Value::map())
    }

    fn factory(&self) -> Arc<dyn ProviderFactory> {
        Arc::new(SleepFactory)
    }
}

fn main() -> std::process::ExitCode {
    strake::run("fixture", |stack| {
        let config = stack.config();
        let a = Data::new(stack, "a", Value::from(config.get_or("a", "1")));
        let b = Data::new(stack, "b", a.output());
        if config.get("secret").is_some() {
            Data::new(stack, "token", Output::secret(Value::from(config.require("secret")?)));
        }
        let sleepers: u32 = config.get_or("sleepers", "0").parse().map_err(|_| Error::Config("sleepers must be a number".into()))?;
        if sleepers > 0 {
            let provider = stack.provider("sleep", SleepConfig);
            let delay: u64 = config.get_or("sleep_ms", "0").parse().map_err(|_| Error::Config("sleep_ms must be a number".into()))?;
            for i in 0..sleepers {
                let r = stack.resource("sleep:index:Sleep", &format!("sleep-{i}"));
                r.set_input("delay_ms", Value::from(delay as i64));
                r.set_input("after", b.output());
                if let Some(secret) = config.get("secret") {
                    r.set_input("token", Output::secret(Value::from(secret)));
                }
                r.provider(&provider);
            }
        }
        // A sleeper that shares the name of Data `a` (another type): progress lines tell them apart.
        if config.get("clash").is_some_and(|v| v == "true") {
            let provider = stack.provider("sleep-clash", SleepConfig);
            let r = stack.resource("sleep:index:Sleep", "a");
            r.set_input("delay_ms", Value::from(0));
            r.provider(&provider);
        }
        stack.export("b", b.output());
        Ok(())
    })
}
