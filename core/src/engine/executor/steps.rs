//! The steps themselves: configure a provider, read a data source, create, update, delete,
//! and the halves of replacements. Each mutation follows one protocol: pending record (durable)
//! → provider call → one batch with the result and the pending record's removal. An object that
//! lives only in state needs no pending record: its steps are the call and the batch.

use std::time::Instant;

use strake_state::{PendingKind, PendingOperation, Write};

use super::{Exec, applied};
use crate::engine::calls::CallError;
use crate::engine::prior::Prior;
use crate::engine::retry::{retry_event, with_retries};
use crate::engine::shared::{check_inputs, now_secs};
use crate::error::StepError;
use crate::graph::NodeKind;
use crate::plan::{Action, PlannedStep, ReplaceOrder};
use crate::program::Declaration;
use crate::provider::*;
use crate::{Urn, Value};

impl Exec<'_> {
    pub(super) async fn run_node(&self, n: usize) -> Result<(), StepError> {
        let node = &self.req.planned.graph.nodes[n];
        if node.kind == NodeKind::Provider {
            return self.configure_provider(n).await;
        }
        let Some(step) = self.steps.get(&node.urn).copied() else { return Ok(()) };
        if step.action == Action::NoOp {
            return Ok(());
        }
        let delete_first = step.action == Action::Replace(ReplaceOrder::DeleteThenCreate);
        // A delete-first replacement announced itself when its delete half started.
        let t = if delete_first { Instant::now() } else { self.started(&step.urn, step.action) };
        let result = match (step.action, self.decl(n)) {
            (Action::Read, Some(d)) => self.read_data_source(n, d).await,
            (Action::Create, Some(d)) => self.create(n, d, None).await,
            (Action::Update, Some(d)) => self.update(n, d).await,
            (Action::Replace(ReplaceOrder::CreateThenDelete), Some(d)) => self.replace_create_first(n, d).await,
            // The old object is gone (its delete half ran first): create the new one.
            (Action::Replace(ReplaceOrder::DeleteThenCreate), Some(d)) => self.create(n, d, None).await,
            (Action::Delete, _) => self.delete(n, step.retain).await,
            (Action::NoOp, _) => Ok(()),
            (_, None) => Err(StepError::other(&node.urn, "apply", "the plan and the program disagree; plan again")),
        };
        self.settle(&node.urn, step.action, t, result)
    }

    async fn configure_provider(&self, n: usize) -> Result<(), StepError> {
        let node = &self.req.planned.graph.nodes[n];
        let Some(decl) = node.decl.map(|i| &self.req.program.providers[i]) else { return Ok(()) };
        let config = match self.env.lock().map(|env| decl.config.resolve_value(&*env)) {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(StepError::other(&decl.urn, "configure", e.0)),
            Err(_) => return Err(StepError::other(&decl.urn, "configure", "poisoned lock")),
        };
        let configured = with_retries(
            &self.req.options.retry,
            || self.caller.limited(&decl.urn, "configure", self.req.providers.configure(&decl.urn, &decl.factory, config.clone())),
            |notice| self.req.observer.on_event(&retry_event(&decl.urn, "configure", &notice)),
        )
        .await;
        configured.map(drop).map_err(|e| StepError::from_provider(&decl.urn, "configure", &e))
    }

    /// Resolves and checks a declaration's inputs against what has been applied so far.
    fn inputs(&self, decl: &Declaration, provider: &dyn Provider, prior: Option<&Prior>) -> Result<Value, StepError> {
        let urn = &decl.urn;
        let inputs = {
            let env = self.env.lock().map_err(|_| StepError::other(urn, "apply", "poisoned lock"))?;
            decl.resolve_inputs(&*env).map_err(|e| StepError::other(urn, "apply", e.0))?
        };
        if !inputs.is_known() {
            return Err(StepError::other(urn, "apply", "some inputs are still unknown after their dependencies were applied"));
        }
        let check = check_inputs(provider, decl, inputs, prior.map(|p| &p.inputs));
        if !check.failures.is_empty() {
            let all: Vec<String> = check.failures.iter().map(|f| format!("`{}`: {}", f.property, f.reason)).collect();
            return Err(StepError::other(urn, "check", all.join("; ")));
        }
        Ok(check.inputs)
    }

    fn pending(&self, n: usize, kind: PendingKind, inputs: &Value, prior: Option<&Prior>) -> PendingOperation {
        let node = &self.req.planned.graph.nodes[n];
        PendingOperation {
            id: uuid::Uuid::new_v4().to_string(),
            urn: node.urn.to_string(),
            kind,
            type_token: node.urn.type_token().to_string(),
            provider: node.provider.as_ref().map(Urn::to_string),
            inputs: inputs.to_recorded(),
            outputs: prior.map(|p| p.outputs.to_recorded()).unwrap_or_default(),
            resource_id: prior.map(|p| p.id.clone()),
            started_at: now_secs(),
        }
    }

    /// Records, durably, that a mutation of node `n` is about to start, so that a lost answer or a
    /// crash leaves a pending record to resolve. An object that lives only in state needs none.
    async fn guard(&self, n: usize, provider: &dyn Provider, kind: PendingKind, inputs: &Value, prior: Option<&Prior>) -> Result<Guard, StepError> {
        if provider.created_lookup(self.node_urn(n).type_token()) == CreatedLookup::StateOnly {
            return Ok(Guard(None));
        }
        let pending = self.pending(n, kind, inputs, prior);
        self.write_for(n, vec![Write::PutPending(pending.clone())]).await?;
        Ok(Guard(Some(pending.id)))
    }

    /// Settles a failed mutation's pending record: a certain failure clears it (nothing changed);
    /// an uncertain one keeps it, so the next run reads the object back.
    async fn give_up(&self, urn: &Urn, guard: Guard, failure: CallError) -> StepError {
        match failure {
            CallError::Failed(e) => match guard.clear() {
                Some(clear) => self.write(urn, vec![clear]).await.err().unwrap_or(e),
                None => e,
            },
            CallError::Uncertain(e) => e,
        }
    }

    /// Creates the object; `extra` joins the batch that records it.
    async fn create(&self, n: usize, decl: &Declaration, extra: Option<Write>) -> Result<(), StepError> {
        let urn = &decl.urn;
        let provider = self.provider(n)?;
        let inputs = self.inputs(decl, provider.as_ref(), self.prior(n))?;
        let guard = self.guard(n, provider.as_ref(), PendingKind::Create, &inputs, None).await?;
        let resp = match self.caller.create_call(provider.as_ref(), urn, &inputs, decl.options.timeouts.create).await {
            Ok(r) => r,
            Err(e) => return Err(self.give_up(urn, guard, e).await),
        };
        let mut writes = vec![Write::PutResource(self.record(n, decl, &resp.id, &inputs, &resp.outputs))];
        writes.extend(extra);
        self.record_result(urn, guard, writes, Some(n)).await?;
        self.set_env(urn, applied(&resp.id, &resp.outputs));
        Ok(())
    }

    async fn update(&self, n: usize, decl: &Declaration) -> Result<(), StepError> {
        let urn = &decl.urn;
        let provider = self.provider(n)?;
        let prior = self.prior(n).ok_or_else(|| StepError::other(urn, "update", "no recorded object to update; plan again"))?;
        let inputs = self.inputs(decl, provider.as_ref(), Some(prior))?;
        let compared = DiffRequest::new(urn.clone(), prior.id.clone(), prior.inputs.clone(), prior.outputs.clone(), inputs.clone());
        let diff = provider.diff(compared.clone());
        if diff.changes.is_empty() {
            // The unknowns of the plan resolved to the recorded values: nothing to do.
            self.set_env(urn, applied(&prior.id, &prior.outputs));
            return Ok(());
        }
        if !diff.replaces.is_empty() {
            return Err(StepError::other(
                urn,
                "update",
                format!("values known only at apply now require replacing it ({}); run plan and apply again", diff.replaces.join(", ")),
            ));
        }
        let guard = self.guard(n, provider.as_ref(), PendingKind::Update, &inputs, Some(prior)).await?;
        let timeout = decl.options.timeouts.update;
        let resp =
            self.caller.call(urn, "update", timeout, || provider.update(UpdateRequest::new(compared.clone(), diff.changes.clone(), timeout))).await;
        let resp = match resp {
            Ok(r) => r,
            Err(e) => return Err(self.give_up(urn, guard, e).await),
        };
        let writes = vec![Write::PutResource(self.record(n, decl, &prior.id, &inputs, &resp.outputs))];
        self.record_result(urn, guard, writes, Some(n)).await?;
        self.set_env(urn, applied(&prior.id, &resp.outputs));
        Ok(())
    }

    async fn replace_create_first(&self, n: usize, decl: &Declaration) -> Result<(), StepError> {
        let urn = &decl.urn;
        let prior = self.prior(n).ok_or_else(|| StepError::other(urn, "replace", "no recorded object; plan again"))?;
        // The old object becomes "deposed": recorded as a pending delete in the same batch that
        // records the new one, so a crash before it is deleted does not lose it.
        let deposed = self.pending(n, PendingKind::Delete, &prior.inputs, Some(prior));
        self.create(n, decl, Some(Write::PutPending(deposed.clone()))).await?;
        if let Ok(mut d) = self.deposed.lock() {
            d.insert(n, deposed);
        }
        Ok(())
    }

    /// Deletes an old object of node `n` (a replaced one), recorded by the pending delete `op`,
    /// which stays until the delete succeeds, so a failure here is finished by a later run.
    pub(super) async fn delete_old(&self, n: usize, op: &PendingOperation) -> Result<(), StepError> {
        let urn = self.node_urn(n);
        let options = self.decl(n).map(|d| &d.options);
        let retain = options.is_some_and(|o| o.retain_on_delete);
        let timeout = options.and_then(|o| o.timeouts.delete);
        async {
            if !retain {
                let provider = self.provider_of_op(n, op)?;
                let id = op.resource_id.clone().unwrap_or_default();
                let request = DeleteRequest::new(urn.clone(), id, Value::from(&op.inputs), Value::from(&op.outputs)).with_timeout(timeout);
                self.caller.delete(&*provider, "delete replaced object", request).await.map_err(CallError::into_step)?;
            }
            self.write(urn, vec![Write::ClearPending { id: op.id.clone() }]).await
        }
        .await
    }

    /// The delete half of a delete-then-create replacement. The step counts as started here.
    pub(super) async fn delete_replaced(&self, n: usize) -> Result<(), StepError> {
        let Some(step): Option<&PlannedStep> = self.steps.get(self.node_urn(n)).copied() else { return Ok(()) };
        let t = self.started(&step.urn, step.action);
        let retain = self.decl(n).is_some_and(|d| d.options.retain_on_delete);
        self.delete(n, retain).await.map_err(|e| self.step_failed(&step.urn, step.action, t, e))
    }

    async fn delete(&self, n: usize, retain: bool) -> Result<(), StepError> {
        let urn = self.node_urn(n);
        let Some(prior) = self.prior(n) else { return Ok(()) };
        if retain {
            return self.write(urn, vec![Write::DeleteResource { urn: urn.to_string() }]).await;
        }
        let provider = self.provider(n)?;
        let timeout = self.decl(n).and_then(|d| d.options.timeouts.delete);
        let guard = self.guard(n, provider.as_ref(), PendingKind::Delete, &prior.inputs, Some(prior)).await?;
        let request = DeleteRequest::new(urn.clone(), prior.id.clone(), prior.inputs.clone(), prior.outputs.clone()).with_timeout(timeout);
        match self.caller.delete(&*provider, "delete", request).await {
            Ok(()) => self.record_result(urn, guard, vec![Write::DeleteResource { urn: urn.to_string() }], None).await,
            Err(e) => Err(self.give_up(urn, guard, e).await),
        }
    }

    async fn read_data_source(&self, n: usize, decl: &Declaration) -> Result<(), StepError> {
        let urn = &decl.urn;
        let provider = self.provider(n)?;
        let inputs = self.inputs(decl, provider.as_ref(), None)?;
        let read = self
            .caller
            .call(urn, "read", None, || {
                provider.read(ReadRequest {
                    urn: urn.clone(),
                    type_token: urn.type_token().to_string(),
                    id: None,
                    inputs: inputs.clone(),
                    outputs: Value::Null,
                })
            })
            .await
            .map_err(CallError::into_step)?;
        match read {
            ReadResponse::Found { id, outputs, .. } => {
                self.set_env(urn, applied(&id, &outputs));
                Ok(())
            }
            ReadResponse::Gone => Err(StepError::other(urn, "read", crate::engine::planner::nothing_found(&inputs, provider.as_ref()))),
        }
    }
}

/// The pending record a mutation runs under, if it needs one.
pub(super) struct Guard(Option<String>);

impl Guard {
    /// Whether the mutation runs under a pending record (its result is then waited for).
    pub(super) fn is_pending(&self) -> bool {
        self.0.is_some()
    }

    /// The write that removes the pending record, once the mutation's outcome is recorded.
    pub(super) fn clear(&self) -> Option<Write> {
        self.0.clone().map(|id| Write::ClearPending { id })
    }
}
