//! [`ProgramProvider`]: a provider whose types the program itself defines (Pulumi's dynamic
//! providers), declared like any other provider configuration.

use std::sync::Arc;

use async_trait::async_trait;

use super::{ProviderContext, Registry, TypedProvider};
use crate::provider::{Provider, ProviderConfig, ProviderError, ProviderFactory};
use crate::{Output, Value};

/// The configuration of a provider for a program's own types:
/// `stack.provider("files", ProgramProvider::new(Registry::new("local").resource(File), ()))`.
/// Its context (clients, settings) is the value given here, the same in every run.
pub struct ProgramProvider<C> {
    types: Arc<Registry<C>>,
    context: C,
}

impl<C: ProviderContext + Clone> ProgramProvider<C> {
    /// A provider of these types, whose operations are all handed `context`.
    pub fn new(types: Registry<C>, context: C) -> Self {
        ProgramProvider { types: Arc::new(types), context }
    }
}

impl<C: ProviderContext + Clone> ProviderConfig for ProgramProvider<C> {
    fn config(&self) -> Output<Value> {
        Output::new(Value::map())
    }

    fn factory(&self) -> Arc<dyn ProviderFactory> {
        Arc::new(ProgramFactory { types: self.types.clone(), context: self.context.clone() })
    }
}

struct ProgramFactory<C> {
    types: Arc<Registry<C>>,
    context: C,
}

#[async_trait]
impl<C: ProviderContext + Clone> ProviderFactory for ProgramFactory<C> {
    fn package(&self) -> &str {
        self.types.package()
    }

    async fn configure(&self, _config: Value) -> Result<Arc<dyn Provider>, ProviderError> {
        Ok(Arc::new(TypedProvider::new(self.context.clone(), self.types.clone())))
    }
}
