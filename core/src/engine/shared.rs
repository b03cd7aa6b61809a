//! What the engine's parts share: how outputs are seen, where stack outputs are recorded, the
//! one check of a resource's inputs (at plan and at apply), and the clock.

use std::collections::HashMap;

use strake_state::{RecordKind, ResourceRecord, Snapshot};

use crate::plan::apply_ignore_changes;
use crate::program::Declaration;
use crate::provider::{CheckRequest, CheckResponse, Provider};
use crate::{Urn, Value};

/// A resource's outputs as other resources see them: its outputs plus `id`.
pub(crate) fn env_value(id: Option<&str>, outputs: &Value) -> Value {
    let mut v = match outputs {
        Value::Map(_) => outputs.clone(),
        _ => Value::map(),
    };
    if v.get("id").is_none() {
        v.set_path("id", Some(id.map(Value::from).unwrap_or(Value::Unknown)));
    }
    v
}

/// The URN under which a stack's outputs are recorded.
pub(crate) fn stack_outputs_urn(stack: &str) -> Urn {
    Urn::new(stack, "strake:index:Stack", "outputs")
}

/// The recorded resources (not providers), with their URNs; a record whose URN does not parse is
/// left out.
pub(crate) fn recorded_resources(snapshot: &Snapshot) -> impl Iterator<Item = (Urn, &ResourceRecord)> {
    snapshot.resources.iter().filter(|r| r.kind == RecordKind::Resource).filter_map(|r| Some((Urn::parse(&r.urn).ok()?, r)))
}

/// The outputs of every recorded resource, as an environment for evaluating outputs.
pub(crate) fn state_env(snapshot: &Snapshot) -> HashMap<Urn, Value> {
    recorded_resources(snapshot).map(|(urn, r)| (urn, env_value(Some(&r.id), &Value::from(&r.outputs)))).collect()
}

pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// The one check of a resource's inputs, at plan time and again at apply (with the values its
/// dependencies then have): the provider's check, then the recorded values kept for the paths
/// the program ignores.
pub(crate) fn check_inputs(provider: &dyn Provider, decl: &Declaration, inputs: Value, prior_inputs: Option<&Value>) -> CheckResponse {
    let urn = &decl.urn;
    let mut check =
        provider.check(CheckRequest { urn: urn.clone(), type_token: urn.type_token().to_string(), inputs, prior_inputs: prior_inputs.cloned() });
    if let Some(prior) = prior_inputs {
        apply_ignore_changes(&decl.options, prior, &mut check.inputs);
    }
    check
}

/// The state record of the declared resource `decl`, managed by `provider` (its provider's URN,
/// `None` for the built-in one) with the provider's current `schema_version` of its type.
pub(crate) fn resource_record(
    decl: &Declaration,
    provider: Option<&Urn>,
    schema_version: u32,
    id: &str,
    inputs: &Value,
    outputs: &Value,
) -> ResourceRecord {
    ResourceRecord {
        urn: decl.urn.to_string(),
        kind: RecordKind::Resource,
        type_token: decl.urn.type_token().to_string(),
        id: id.to_string(),
        inputs: inputs.to_recorded(),
        outputs: outputs.to_recorded(),
        dependencies: decl.dependencies().iter().map(Urn::to_string).collect(),
        provider: provider.map(Urn::to_string),
        protect: decl.options.protect,
        retain_on_delete: decl.options.retain_on_delete,
        schema_version,
    }
}
