//! A session reads the stack's state when it opens, and again after an apply only when something
//! asks for it: a run that ends with its apply never reads back what it wrote.

use std::sync::Arc;

use strake::plan::Action;
use strake::prelude::*;
use strake::{Config, Engine, PlanOptions, Program};
use strake_state::{MemoryStore, RecordKind, ResourceRecord, StateStore, Write};

#[tokio::test]
async fn what_an_apply_wrote_is_read_when_next_asked_for() {
    let store = Arc::new(MemoryStore::new());
    let engine = Engine::new(store.clone());
    let program = Program::build("dev", Config::default(), |stack| {
        Data::new(stack, "settings", value!({ "replicas": 2 }));
        Ok(())
    })
    .unwrap();
    let mut session = engine.session(&program, "apply").unwrap();
    assert!(!session.exists().unwrap());
    let planned = session.plan(&PlanOptions::default()).await.unwrap();
    assert_eq!(session.apply(&planned).await.unwrap().changed, 1);
    drop(planned);

    // Written after the apply ended: the session sees it, since it had not read the state since.
    let extra = ResourceRecord {
        urn: "urn:strake:dev::strake:index:Data::extra".into(),
        kind: RecordKind::Resource,
        type_token: "strake:index:Data".into(),
        id: "id-extra".into(),
        inputs: serde_json::json!({ "input": 1 }).into(),
        outputs: serde_json::json!({ "output": 1 }).into(),
        dependencies: Vec::new(),
        provider: None,
        protect: false,
        retain_on_delete: false,
        schema_version: 0,
    };
    store.write("dev", vec![Write::PutResource(extra)]).unwrap();
    assert!(session.exists().unwrap());
    let names: Vec<String> = session.snapshot().unwrap().resources.iter().map(|r| r.urn.rsplit("::").next().unwrap().to_string()).collect();
    assert!(names.contains(&"settings".to_string()) && names.contains(&"extra".to_string()), "{names:?}");

    let again = session.plan(&PlanOptions::default()).await.unwrap();
    let actions: Vec<(&str, Action)> = again.plan.steps.iter().map(|s| (s.urn.name(), s.action)).collect();
    assert!(actions.contains(&("settings", Action::NoOp)), "the apply's own record is planned against: {actions:?}");
    assert!(actions.contains(&("extra", Action::Delete)), "{actions:?}");
}

#[tokio::test]
async fn an_import_with_a_value_no_plan_could_read_is_refused_whole() {
    let store = Arc::new(MemoryStore::new());
    let engine = Engine::new(store.clone());
    let program = Program::build("dev", Config::default(), |_| Ok(())).unwrap();
    let mut session = engine.session(&program, "state import").unwrap();
    let mut snapshot = strake_state::Snapshot::empty("dev");
    let record = |name: &str, outputs: &str| ResourceRecord {
        urn: format!("urn:strake:dev::strake:index:Data::{name}"),
        kind: RecordKind::Resource,
        type_token: "strake:index:Data".into(),
        id: format!("id-{name}"),
        inputs: serde_json::json!({ "input": 1 }).into(),
        outputs: strake_state::JsonText::parse(outputs).unwrap(),
        dependencies: Vec::new(),
        provider: None,
        protect: false,
        retain_on_delete: false,
        schema_version: 0,
    };
    snapshot.resources = vec![record("fine", r#"{"output": 1}"#), record("huge", r#"{"output": 1e400}"#)];
    let err = session.replace_state(snapshot).unwrap_err().to_string();
    assert!(err.contains("the outputs of `urn:strake:dev::strake:index:Data::huge`") && err.contains("nothing was imported"), "{err}");
    assert!(store.load("dev").unwrap().is_none(), "nothing of the file was stored");
}
