//! What a plan keeps of the recorded resources: the priors of the steps that change something,
//! each as recorded, and nothing of the unchanged ones beyond what their steps share.

use std::collections::BTreeSet;
use std::sync::Arc;

use strake_state::MemoryStore;

use crate::plan::Action;
use crate::prelude::*;
use crate::{Config, Engine, PlanOptions, Program};

fn program(replicas: i64, with_extra: bool) -> Program {
    Program::build("dev", Config::default(), move |stack| {
        Data::new(stack, "same", value!({ "team": "platform", "tags": { "cost-centre": "infrastructure-and-platform-engineering" } }));
        Data::new(stack, "changed", value!({ "replicas": replicas }));
        if with_extra {
            Data::new(stack, "extra", value!({ "kept": false }));
        }
        Ok(())
    })
    .unwrap()
}

#[tokio::test]
async fn a_plan_keeps_the_priors_only_of_what_it_changes() {
    let engine = Engine::new(Arc::new(MemoryStore::new()));
    let first = program(2, true);
    let mut session = engine.session(&first, "apply").unwrap();
    let planned = session.plan(&PlanOptions::default()).await.unwrap();
    session.apply(&planned).await.unwrap();
    drop((planned, session));

    let second = program(3, false);
    let mut session = engine.session(&second, "plan").unwrap();
    let planned = session.plan(&PlanOptions::default()).await.unwrap();
    let actions: Vec<(&str, Action)> = planned.plan.steps.iter().map(|s| (s.urn.name(), s.action)).collect();
    assert_eq!(actions, [("changed", Action::Update), ("extra", Action::Delete), ("same", Action::NoOp)]);

    let kept: BTreeSet<&str> = planned.prior.keys().map(|u| u.name()).collect();
    assert_eq!(kept, BTreeSet::from(["changed", "extra"]), "the unchanged resource's prior is not kept");
    let changed = planned.prior.iter().find(|(u, _)| u.name() == "changed").map(|(_, p)| p).unwrap();
    assert_eq!(changed.inputs, value!({ "input": { "replicas": 2 } }), "the prior is the recorded resource");
    let record = crate::engine::prior::record_of(session.snapshot().unwrap(), &planned.plan.steps[0].urn).unwrap();
    assert_eq!(changed.id, record.id);

    // The unchanged step's before and after are one copy, shared with the prior it was planned with.
    let same = planned.plan.steps.iter().find(|s| s.urn.name() == "same").unwrap();
    let (Some(Value::Map(before)), Some(Value::Map(after))) = (&same.before, &same.after) else { panic!("maps: {same:?}") };
    assert!(before.shares_entries_with(after));
}
