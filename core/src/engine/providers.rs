//! Configured providers for one operation, keyed by provider URN. The built-in provider needs no
//! configuration; others are configured when their graph node runs (their configuration may
//! depend on other resources' outputs) or, for resources the program dropped, from the
//! configuration recorded in state.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use strake_state::{RecordKind, Snapshot};

use crate::builtin::{BuiltinFactory, BuiltinProvider, PACKAGE};
use crate::program::Program;
use crate::provider::{Provider, ProviderError, ProviderFactory};
use crate::{Urn, Value};

/// What is known of a provider.
#[derive(Clone)]
pub(crate) enum Slot {
    Ready(Arc<dyn Provider>),
    /// Its configuration is not known until apply.
    Unknown,
}

pub(crate) struct ProviderCache {
    factories: HashMap<String, Arc<dyn ProviderFactory>>,
    builtin: Arc<dyn Provider>,
    slots: Mutex<HashMap<Urn, (Value, Slot)>>,
}

impl ProviderCache {
    pub(crate) fn new(program: &Program) -> Self {
        let mut factories: HashMap<String, Arc<dyn ProviderFactory>> = HashMap::new();
        factories.insert(PACKAGE.into(), Arc::new(BuiltinFactory));
        for p in &program.providers {
            factories.entry(p.package.clone()).or_insert_with(|| p.factory.clone());
        }
        ProviderCache { factories, builtin: Arc::new(BuiltinProvider), slots: Mutex::new(HashMap::new()) }
    }

    /// The provider for a resource (`None` = the built-in provider).
    pub(crate) fn get(&self, urn: Option<&Urn>) -> Option<Slot> {
        match urn {
            None => Some(Slot::Ready(self.builtin.clone())),
            Some(urn) => self.slots.lock().ok()?.get(urn).map(|(_, s)| s.clone()),
        }
    }

    /// Where the provider `urn` lands, with the configuration it was configured with: `None`
    /// when it is unknown until apply (or not configured).
    pub(crate) fn target_of(&self, urn: &Urn) -> Option<(Value, Option<crate::provider::Target>)> {
        let (config, slot) = self.slots.lock().ok()?.get(urn).cloned()?;
        match slot {
            Slot::Ready(p) => Some((config, p.target())),
            Slot::Unknown => None,
        }
    }

    /// The configuration a provider was configured with (for its state record).
    pub(crate) fn config_of(&self, urn: &Urn) -> Option<Value> {
        self.slots.lock().ok()?.get(urn).map(|(c, _)| c.clone()).filter(Value::is_known)
    }

    /// Configures `urn` with `config` (unknown config: the slot is `Unknown`). Reuses the provider
    /// when the configuration is unchanged.
    pub(crate) async fn configure(&self, urn: &Urn, factory: &Arc<dyn ProviderFactory>, config: Value) -> Result<Slot, ProviderError> {
        if let Some((old, slot)) = self.slots.lock().ok().and_then(|s| s.get(urn).cloned())
            && old == config
            && config.is_known()
        {
            return Ok(slot);
        }
        let slot = if config.is_known() { Slot::Ready(factory.configure(config.clone()).await?) } else { Slot::Unknown };
        if let Ok(mut slots) = self.slots.lock() {
            slots.insert(urn.clone(), (config, slot.clone()));
        }
        Ok(slot)
    }

    /// Configures providers that state records but the program no longer declares, so the
    /// resources they manage can still be read and deleted.
    pub(crate) async fn configure_recorded(&self, program: &Program, snapshot: &Snapshot) -> Vec<(Urn, String)> {
        let mut problems = Vec::new();
        for rec in snapshot.resources.iter().filter(|r| r.kind == RecordKind::Provider) {
            let Ok(urn) = Urn::parse(&rec.urn) else { continue };
            if program.providers.iter().any(|p| p.urn == urn) {
                continue;
            }
            let package = urn.type_token().strip_prefix("strake:provider:").unwrap_or("").to_string();
            let Some(factory) = self.factories.get(&package).cloned() else {
                problems.push((
                    urn.clone(),
                    format!(
                        "state has resources managed by provider `{}` (package `{package}`), which the program no longer \
                         declares; keep a `{package}` provider declared until those resources are destroyed",
                        urn.name()
                    ),
                ));
                continue;
            };
            if let Err(e) = self.configure(&urn, &factory, Value::from(&rec.inputs)).await {
                problems.push((urn, format!("configuring the recorded provider failed: {e}")));
            }
        }
        problems
    }
}
