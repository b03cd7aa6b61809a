//! A saved plan in another format is refused before anything is planned or applied.

use std::sync::Arc;

use strake::plan::PLAN_FORMAT_VERSION;
use strake::prelude::*;
use strake::{Config, Engine, PlanOptions, Program};

#[tokio::test]
async fn a_plan_saved_in_another_format_is_refused_and_nothing_is_applied() {
    let engine = Engine::new(Arc::new(strake_state::MemoryStore::new()));
    let program = Program::build("dev", Config::default(), |stack| {
        Data::new(stack, "settings", value!({ "replicas": 2 }));
        Ok(())
    })
    .unwrap();
    let mut saved = engine.plan(&program, &PlanOptions::default()).await.unwrap();
    saved.format_version = PLAN_FORMAT_VERSION + 1;
    let mut session = engine.session(&program, "apply").unwrap();
    let err = session.apply_saved(&saved).await.unwrap_err();
    assert!(matches!(&err, Error::StalePlan(m) if m.contains(&format!("plan format {}", PLAN_FORMAT_VERSION + 1))), "{err:?}");
    assert!(session.snapshot().unwrap().resources.is_empty(), "nothing applied");
    // The same plan in this version's format applies.
    saved.format_version = PLAN_FORMAT_VERSION;
    assert_eq!(session.apply_saved(&saved).await.unwrap().changed, 1);
}
