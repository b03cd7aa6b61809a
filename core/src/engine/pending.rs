//! Finishing what an interrupted run left: pending operations are read back and adopted, or
//! cleared; and `import`, which adopts an existing object. Both read first and record what they find.

use std::collections::HashMap;
use std::sync::Arc;

use strake_state::{PendingKind, PendingOperation, RecordKind, ResourceRecord, Snapshot, StateStore, Write};

use super::EngineOptions;
use super::calls::{CallError, Caller};
use super::providers::{ProviderCache, Slot};
use super::shared::{check_inputs, now_secs, resource_record, state_env};
use super::walk::{CancelFlag, walk};
use crate::error::{Error, StepError};
use crate::program::{DeclKind, Program};
use crate::provider::*;
use crate::{Urn, Value};

/// Configures the program's providers from what state knows (no data sources are read).
async fn configure_from_state(program: &Program, snapshot: &Snapshot, providers: &ProviderCache, options: &EngineOptions) -> HashMap<Urn, Value> {
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

/// What resolving the pending operations did.
#[derive(Debug, Default)]
pub(crate) struct Resolution {
    /// What was found and done, one line per resolved operation.
    pub resolved: Vec<String>,
    /// Why each operation still recorded stays so, one line each.
    pub unresolved: Vec<String>,
    /// Interrupted creates whose outcome is still unknown. Until they are resolved, planning
    /// could create their objects a second time, so the commands that plan refuse to go on.
    pub unresolved_creates: Vec<StepError>,
}

/// Resolves every pending operation, each on its own: one that fails stays recorded and does not
/// stop the others. Reads and deletes are retried like apply's calls. Deletes run in dependency
/// order (an object's dependents' deletes first, as in an apply), so an interrupted replacement's
/// old attachment is detached before its old role is deleted.
pub(crate) async fn resolve(
    program: &Program,
    snapshot: &Snapshot,
    providers: &ProviderCache,
    store: &dyn StateStore,
    caller: &Caller<'_>,
) -> Resolution {
    let options = caller.options();
    configure_from_state(program, snapshot, providers, options).await;
    let ops = &snapshot.pending;
    let deps = delete_order(program, snapshot);
    let outcome = walk(&deps, options.parallelism, &CancelFlag::default(), |i| async move {
        let op = &ops[i];
        match provider_for(providers, op.provider.as_deref()) {
            Some(provider) => {
                let (writes, note) = resolve_one(op, program, snapshot, provider.as_ref(), caller).await?;
                store
                    .write(&snapshot.meta.stack, writes)
                    .map(|_| note)
                    .map_err(|e| StepError::other(&op_urn(op), "record state", format!("resolving an interrupted {}: {e}", kind_name(op.kind))))
            }
            None => Err(StepError::other(
                &op_urn(op),
                kind_name(op.kind),
                "its provider cannot be configured from state or the program (declare it again, or check its credentials)",
            )),
        }
    })
    .await;
    let mut results: Vec<Option<Result<String, StepError>>> = vec![None; ops.len()];
    for (i, note) in outcome.succeeded {
        results[i] = Some(Ok(note));
    }
    for (i, e) in outcome.failed {
        results[i] = Some(Err(e));
    }
    for &(i, cause) in &outcome.skipped {
        let why = format!("waiting for the interrupted {} of {} first", kind_name(ops[cause].kind), ops[cause].urn);
        results[i] = Some(Err(StepError::other(&op_urn(&ops[i]), kind_name(ops[i].kind), why)));
    }
    let mut resolution = Resolution::default();
    for (op, result) in ops.iter().zip(results) {
        match result {
            Some(Ok(note)) => resolution.resolved.push(note),
            Some(Err(e)) => {
                resolution.unresolved.push(format!(
                    "the interrupted {} of {} is not resolved yet and stays recorded (pending operation {}): {}{}",
                    kind_name(op.kind),
                    op.urn,
                    op.id,
                    e.code.as_deref().map(|c| format!("{c}: ")).unwrap_or_default(),
                    e.message
                ));
                if op.kind == PendingKind::Create {
                    resolution.unresolved_creates.push(e);
                }
            }
            None => {}
        }
    }
    resolution
}

fn op_urn(op: &PendingOperation) -> Urn {
    Urn::parse(&op.urn).unwrap_or_else(|_| Urn::new("unknown", "strake:index:Unknown", &op.urn))
}

/// For each pending operation, the operations it waits for: a delete waits for the deletes of
/// objects that depend on its object (by the recorded dependencies, and the declared ones).
fn delete_order(program: &Program, snapshot: &Snapshot) -> Vec<Vec<usize>> {
    let depends_on = |dependent: &str, on: &str| -> bool {
        let recorded = snapshot.resources.iter().find(|r| r.urn == dependent).is_some_and(|r| r.dependencies.iter().any(|d| d == on));
        let declared = Urn::parse(dependent)
            .ok()
            .and_then(|u| program.declaration(&u).map(|d| d.dependencies().iter().any(|d| d.as_str() == on)))
            .unwrap_or(false);
        recorded || declared
    };
    let ops = &snapshot.pending;
    ops.iter()
        .map(|op| {
            if op.kind != PendingKind::Delete {
                return Vec::new();
            }
            (0..ops.len()).filter(|&j| ops[j].kind == PendingKind::Delete && ops[j].urn != op.urn && depends_on(&ops[j].urn, &op.urn)).collect()
        })
        .collect()
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
    caller: &Caller<'_>,
) -> Result<(Vec<Write>, String), StepError> {
    let urn = op_urn(op);
    let recorded = snapshot.resources.iter().find(|r| r.urn == op.urn);
    // An adopted object without a record takes what the program declares for it (as the
    // executor would have recorded), so deletes stay ordered after its dependents.
    let declared = program.declaration(&urn).filter(|d| d.kind == DeclKind::Resource);
    let inputs = Value::from(&op.inputs);
    let outputs = Value::from(&op.outputs);
    if op.kind == PendingKind::Create && provider.created_lookup(&op.type_token) == CreatedLookup::Unfindable {
        return Err(StepError::other(
            &urn,
            "create",
            format!(
                "`{}` objects cannot be found from their inputs (the cloud assigns their ids), so whether it was made \
                 is unknown: look for it in the cloud, then `import {urn} <id>` it, or drop the record with `state pending rm {}`",
                op.type_token, op.id
            ),
        ));
    }
    let request = ReadRequest {
        urn: urn.clone(),
        type_token: op.type_token.clone(),
        id: op.resource_id.clone(),
        inputs: inputs.clone(),
        outputs: outputs.clone(),
    };
    let read = caller.read(provider, &urn, "read back", request).await.map_err(|e| StepError::from_provider(&urn, "read back", &e))?;
    let clear = Write::ClearPending { id: op.id.clone() };
    let what = kind_name(op.kind);
    Ok(match (op.kind, read) {
        (PendingKind::Create, ReadResponse::Found { id, outputs, .. }) => adopted(op, &urn, id, outputs, recorded, declared, provider),
        (PendingKind::Create, ReadResponse::Gone) => (vec![clear], format!("the interrupted create of {urn} had not created anything: cleared")),
        (PendingKind::Update, ReadResponse::Found { id, inputs, outputs }) => match recorded {
            Some(rec) => {
                let rec = ResourceRecord { id, inputs: inputs.to_recorded(), outputs: outputs.to_recorded(), ..rec.clone() };
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
                // The old object of a replacement: finish deleting it, as an apply would.
                let timeout = declared.and_then(|d| d.options.timeouts.delete);
                let request = DeleteRequest::new(urn.clone(), id.clone(), inputs, outputs).with_timeout(timeout);
                caller.delete(provider, "delete replaced object", request).await.map_err(CallError::into_step)?;
                (vec![clear], format!("the interrupted replacement of {urn}: deleted the old object `{id}`"))
            }
        }
    })
}

/// The writes and the note that adopt object `id`, which an interrupted create made: the record
/// the program would have written (dependencies and options as declared, else as recorded). If
/// it replaced a recorded object (a create-then-delete replacement), that object becomes a
/// pending delete, as the replacement would have recorded it.
fn adopted(
    op: &PendingOperation,
    urn: &Urn,
    id: String,
    outputs: Value,
    recorded: Option<&ResourceRecord>,
    declared: Option<&crate::program::Declaration>,
    provider: &dyn Provider,
) -> (Vec<Write>, String) {
    let rec = ResourceRecord {
        urn: op.urn.clone(),
        kind: RecordKind::Resource,
        type_token: op.type_token.clone(),
        id: id.clone(),
        inputs: op.inputs.clone(),
        outputs: outputs.to_recorded(),
        dependencies: match (declared, recorded) {
            (Some(d), _) => d.dependencies().iter().map(Urn::to_string).collect(),
            (None, Some(r)) => r.dependencies.clone(),
            (None, None) => Vec::new(),
        },
        provider: op.provider.clone(),
        protect: recorded.map(|r| r.protect).or(declared.map(|d| d.options.protect)).unwrap_or(false),
        retain_on_delete: recorded.map(|r| r.retain_on_delete).or(declared.map(|d| d.options.retain_on_delete)).unwrap_or(false),
        schema_version: provider.schema_version(&op.type_token),
    };
    let clear = Write::ClearPending { id: op.id.clone() };
    let Some(old) = recorded.filter(|r| r.id != id) else {
        return (vec![Write::PutResource(rec), clear], format!("the interrupted create of {urn} had succeeded: adopted object `{id}` into state"));
    };
    let deposed = PendingOperation {
        id: uuid::Uuid::new_v4().to_string(),
        urn: old.urn.clone(),
        kind: PendingKind::Delete,
        type_token: old.type_token.clone(),
        provider: old.provider.clone(),
        inputs: old.inputs.clone(),
        outputs: old.outputs.clone(),
        resource_id: Some(old.id.clone()),
        started_at: now_secs(),
    };
    let note = format!(
        "the interrupted replacement of {urn} had created its new object: adopted `{id}`; the object it replaces, `{}`, \
         is deleted once nothing depends on it",
        old.id
    );
    (vec![Write::PutResource(rec), Write::PutPending(deposed), clear], note)
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
    let decl = program.declaration(urn).filter(|d| d.kind == DeclKind::Resource).ok_or_else(|| Error::Import {
        urn: urn.to_string(),
        reason: "it is not a resource the program declares; declare it first, then import".into(),
    })?;
    if snapshot.resources.iter().any(|r| r.urn == urn.as_str()) {
        return Err(Error::Import { urn: urn.to_string(), reason: "it is already in state; `state rm` it first to import another object".into() });
    }
    let graph = crate::graph::Graph::build(program, Some(snapshot)).map_err(Error::Diagnostics)?;
    let node = &graph.nodes[graph.node_index(urn).unwrap_or_default()];
    let env = configure_from_state(program, snapshot, providers, options).await;
    let provider = provider_for(providers, node.provider.as_ref().map(Urn::as_str)).ok_or_else(|| Error::Import {
        urn: urn.to_string(),
        reason: "its provider cannot be configured before apply; apply its dependencies first".into(),
    })?;
    let inputs = decl.resolve_inputs(&env).map_err(|e| Error::Import { urn: urn.to_string(), reason: e.0 })?;
    // The read sees the inputs as a plan would (defaults, normalized forms), so what it records
    // compares with the next plan's.
    let check = check_inputs(provider.as_ref(), decl, inputs.clone(), None);
    let inputs = if check.failures.is_empty() && inputs.is_known() { check.inputs } else { inputs };
    let read = provider
        .read(ReadRequest { urn: urn.clone(), type_token: urn.type_token().to_string(), id: Some(id.to_string()), inputs, outputs: Value::Null })
        .await
        .map_err(|e| Error::StepsFailed(vec![StepError::from_provider(urn, "import", &e)]))?;
    let ReadResponse::Found { id, inputs, outputs } = read else {
        return Err(Error::Import { urn: urn.to_string(), reason: format!("no object with id `{id}` exists") });
    };
    let rec = resource_record(decl, node.provider.as_ref(), provider.schema_version(urn.type_token()), &id, &inputs, &outputs);
    // An interrupted create of this resource is settled by the import.
    let mut writes = vec![Write::PutResource(rec)];
    writes.extend(
        snapshot.pending.iter().filter(|p| p.urn == urn.as_str() && p.kind == PendingKind::Create).map(|p| Write::ClearPending { id: p.id.clone() }),
    );
    store.write(&program.stack, writes)?;
    Ok(())
}
