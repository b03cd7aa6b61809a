//! Records written by an older version of a type's schema: upgraded by their provider on load,
//! so nothing is planned for them, and written back in the current version; a record of a
//! version newer than the provider knows stops the plan instead of being misread.

use strake::{Error, PlanOptions, Value};
use strake_tests::fake::Thing;
use strake_tests::harness::{Rig, STACK};

/// What an older version called `value`.
const OLD: &str = "val";

fn renamed(mut inputs: Value, from: &str, to: &str) -> Value {
    let v = inputs.get(from).cloned();
    inputs.set_path(from, None);
    inputs.set_path(to, v);
    inputs
}

fn no_refresh() -> PlanOptions {
    PlanOptions { refresh: false, ..Default::default() }
}

#[tokio::test]
async fn records_of_an_older_schema_are_upgraded_on_load_and_written_back() {
    let rig = Rig::memory();
    let p = rig.program(|stack, _| {
        Thing::new(stack, "a").name("a").value(Value::from(5));
    });
    rig.up(&p).await.unwrap();

    // State as an older provider wrote it: `value` was `val`, schema version 0.
    let mut snapshot = rig.snapshot();
    for r in snapshot.resources.iter_mut().filter(|r| r.type_token == "fake:index:Thing") {
        r.inputs = renamed(Value::from(&r.inputs), "value", OLD).to_recorded();
    }
    rig.store.import(snapshot.clone()).unwrap();
    let unaware = rig.engine.plan(&p, &no_refresh()).await.unwrap();
    assert!(unaware.has_changes(), "read as it is, the old record differs from the program");

    // The provider now knows version 1 and how to read version 0.
    rig.cloud.set_schema(1, |inputs| renamed(inputs, OLD, "value"));
    let plan = rig.engine.plan(&p, &no_refresh()).await.unwrap();
    assert!(!plan.has_changes(), "{}", strake::plan::render_human(&plan, false));
    rig.engine.up(&p, &no_refresh()).await.unwrap();
    let record = rig.record("a").unwrap();
    let inputs = record.inputs.to_value();
    assert_eq!((record.schema_version, inputs.get("value").cloned()), (1, Some(serde_json::json!(5))), "{record:?}");
    assert!(inputs.get(OLD).is_none(), "{record:?}");

    // A record of a version newer than the provider knows is refused, named.
    let mut newer = rig.snapshot();
    for r in newer.resources.iter_mut().filter(|r| r.type_token == "fake:index:Thing") {
        r.schema_version = 2;
    }
    rig.store.import(newer).unwrap();
    let Err(Error::Diagnostics(diags)) = rig.plan(&p).await else { panic!("a newer record must stop the plan") };
    let text = diags.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
    assert!(
        text.contains(&format!("urn:strake:{STACK}::fake:index:Thing::a")) && text.contains("newer version of its provider (schema version 2"),
        "{text}"
    );
}
