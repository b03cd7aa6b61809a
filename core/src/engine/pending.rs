//! Finishing what an interrupted run left: pending operations are read back and adopted, or
//! cleared; and `import`, which adopts an existing object. Both read first and record what they find.

use std::collections::HashMap;
use std::sync::Arc;

use strake_state::{PendingKind, PendingOperation, RecordKind, ResourceRecord, Snapshot, StateStore, Write};

use super::providers::{ProviderCache, Slot};
use super::{EngineOptions, state_env};
use crate::error::{Error, StepError};
use crate::program::{DeclKind, Program};
use crate::provider::*;
use crate::{Urn, Value};

/// Configures the program's providers from what state knows (no data sources are read).
async fn configure_from_state(
    program: &Program,
    snapshot: &Snapshot,
    providers: &ProviderCache,
    options: &EngineOptions,
) -> HashMap<Urn, Value> {
    let env = state_env(snapshot);
    for p in &program.providers {
        if let Ok(config) = p.config.resolve_value(&env) {
            let configure = || providers.configure(&p.urn, &p.factory, config.clone());
            let _ = super::retry::with_retries(&options.retry, configure, |_| {}).await;
        }
    }
    let _ = providers.configure_recorded(program, snapshot).await;
    env
}

fn provider_for(providers: &ProviderCache, urn: Option<&str>) -> Option<Arc<dyn Provider>> {
    let urn = match urn {
        Some(u) => Some(Urn::parse(u).ok()?),
        None => None,
    };
    match providers.get(urn.as_ref()) {
        Some(Slot::Ready(p)) => Some(p),
        _ => None,
    }
}

/// Resolves every pending operation; returns one note per operation.
pub(crate) async fn resolve(
    program: &Program,
    snapshot: &Snapshot,
    providers: &ProviderCache,
    store: &dyn StateStore,
    options: &EngineOptions,
) -> Result<Vec<String>, Error> {
    configure_from_state(program, snapshot, providers, options).await;
    let mut notes = Vec::new();
    for op in &snapshot.pending {
        let Some(provider) = provider_for(providers, op.provider.as_deref()) else {
            notes.push(format!(
                "the interrupted {} of {} cannot be resolved yet: its provider is not configurable from state; it stays recorded",
                kind_name(op.kind),
                op.urn
            ));
            continue;
        };
        let (writes, note) = resolve_one(op, program, snapshot, provider.as_ref(), options).await?;
        store.write(&snapshot.meta.stack, writes)?;
        notes.push(note);
    }
    Ok(notes)
}

fn kind_name(kind: PendingKind) -> &'static str {
    match kind {
        PendingKind::Create => "create",
        PendingKind::Update => "update",
        PendingKind::Delete => "delete",
    }
}

async fn resolve_one(
    op: &PendingOperation,
    program: &Program,
    snapshot: &Snapshot,
    provider: &dyn Provider,
    options: &EngineOptions,
) -> Result<(Vec<Write>, String), Error> {
    let urn = Urn::parse(&op.urn).map_err(Error::Usage)?;
    let recorded = snapshot.resources.iter().find(|r| r.urn == op.urn);
    // An adopted object without a record takes what the program declares for it (as the
    // executor would have recorded), so deletes stay ordered after its dependents.
    let declared = program.declaration(&urn).filter(|d| d.kind == DeclKind::Resource);
    let inputs = Value::from_json(op.inputs.clone());
    let outputs = Value::from_json(op.outputs.clone());
    let request = ReadRequest {
        urn: urn.clone(),
        type_token: op.type_token.clone(),
        id: op.resource_id.clone(),
        inputs: inputs.clone(),
        outputs: outputs.clone(),
    };
    let read = super::retry::with_retries(&options.retry, || provider.read(request.clone()), |_| {})
        .await
        .map_err(|e| Error::StepsFailed(vec![StepError::from_provider(&urn, "read (resolving an interrupted operation)", &e)]))?;
    let clear = Write::ClearPending { id: op.id.clone() };
    let what = kind_name(op.kind);
    Ok(match (op.kind, read) {
        (PendingKind::Create, ReadResponse::Found { id, outputs, .. }) => {
            let rec = ResourceRecord {
                urn: op.urn.clone(),
                kind: RecordKind::Resource,
                type_token: op.type_token.clone(),
                id: id.clone(),
                inputs: op.inputs.clone(),
                outputs: outputs.to_json(),
                dependencies: match (recorded, declared) {
                    (Some(r), _) => r.dependencies.clone(),
                    (None, Some(d)) => d.dependencies().iter().map(Urn::to_string).collect(),
                    (None, None) => Vec::new(),
                },
                provider: op.provider.clone(),
                protect: recorded.map(|r| r.protect).or(declared.map(|d| d.options.protect)).unwrap_or(false),
                retain_on_delete: recorded
                    .map(|r| r.retain_on_delete)
                    .or(declared.map(|d| d.options.retain_on_delete))
                    .unwrap_or(false),
            };
            (vec![Write::PutResource(rec), clear], format!("the interrupted create of {urn} had succeeded: adopted object `{id}` into state"))
        }
        (PendingKind::Create, ReadResponse::Gone) => {
            (vec![clear], format!("the interrupted create of {urn} had not created anything: cleared"))
        }
        (PendingKind::Update, ReadResponse::Found { id, inputs, outputs }) => match recorded {
            Some(rec) => {
                let rec = ResourceRecord { id, inputs: inputs.to_json(), outputs: outputs.to_json(), ..rec.clone() };
                (vec![Write::PutResource(rec), clear], format!("the interrupted update of {urn}: recorded the object as it is now"))
            }
            None => (vec![clear], format!("the interrupted update of {urn}: no record to update; cleared")),
        },
        (PendingKind::Update | PendingKind::Delete, ReadResponse::Gone) => {
            let mut writes = vec![clear];
            if recorded.is_some_and(|r| Some(&r.id) == op.resource_id.as_ref()) {
                writes.push(Write::DeleteResource { urn: op.urn.clone() });
            }
            (writes, format!("the interrupted {what} of {urn}: the object is gone; forgot it"))
        }
        (PendingKind::Delete, ReadResponse::Found { id, inputs, outputs }) => {
            let is_current = recorded.is_some_and(|r| r.id == id);
            if is_current {
                (vec![clear], format!("the interrupted delete of {urn} had not happened: the object `{id}` is still recorded"))
            } else {
                // The old object of a replacement: finish deleting it.
                provider
                    .delete(DeleteRequest {
                        urn: urn.clone(),
                        type_token: op.type_token.clone(),
                        id: id.clone(),
                        inputs,
                        outputs,
                        timeout: None,
                    })
                    .await
                    .map_err(|e| Error::StepsFailed(vec![StepError::from_provider(&urn, "delete replaced object", &e)]))?;
                (vec![clear], format!("the interrupted replacement of {urn}: deleted the old object `{id}`"))
            }
        }
    })
}

/// Adopts an existing object as the declared resource `urn`.
pub(crate) async fn import(
    program: &Program,
    snapshot: &Snapshot,
    providers: &ProviderCache,
    options: &EngineOptions,
    store: &dyn StateStore,
    urn: &Urn,
    id: &str,
) -> Result<(), Error> {
    let decl = program
        .declaration(urn)
        .filter(|d| d.kind == DeclKind::Resource)
        .ok_or_else(|| Error::Usage(format!("`{urn}` is not a resource the program declares; declare it first, then import")))?;
    if snapshot.resources.iter().any(|r| r.urn == urn.as_str()) {
        return Err(Error::Usage(format!("`{urn}` is already in state; `state rm` it first to import another object")));
    }
    let graph = crate::graph::Graph::build(program, Some(snapshot)).map_err(Error::Diagnostics)?;
    let node = &graph.nodes[graph.node_index(urn).unwrap_or_default()];
    let env = configure_from_state(program, snapshot, providers, options).await;
    let provider = provider_for(providers, node.provider.as_ref().map(Urn::as_str))
        .ok_or_else(|| Error::Usage(format!("the provider of `{urn}` cannot be configured before apply; apply its dependencies first")))?;
    let inputs = decl.resolve_inputs(&env).map_err(|e| Error::Usage(e.0))?;
    let read = provider
        .read(ReadRequest { urn: urn.clone(), type_token: urn.type_token().to_string(), id: Some(id.to_string()), inputs, outputs: Value::Null })
        .await
        .map_err(|e| Error::StepsFailed(vec![StepError::from_provider(urn, "import", &e)]))?;
    let ReadResponse::Found { id, inputs, outputs } = read else {
        return Err(Error::Usage(format!("no object with id `{id}` exists for `{urn}`")));
    };
    let rec = ResourceRecord {
        urn: urn.to_string(),
        kind: RecordKind::Resource,
        type_token: urn.type_token().to_string(),
        id,
        inputs: inputs.to_json(),
        outputs: outputs.to_json(),
        dependencies: decl.dependencies().iter().map(Urn::to_string).collect(),
        provider: node.provider.as_ref().map(Urn::to_string),
        protect: decl.options.protect,
        retain_on_delete: decl.options.retain_on_delete,
    };
    store.write(&program.stack, vec![Write::PutResource(rec)])?;
    Ok(())
}
