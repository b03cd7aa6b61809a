//! Snapshot tests of what users read: the human plan and the JSON plan, from real plans made by
//! the engine over the built-in `Data` resource.

use std::sync::Arc;

use strake::plan::{render_human, render_json};
use strake::prelude::*;
use strake::{Config, Engine, PlanOptions, Program};
use strake_state::MemoryStore;

/// Version 1 of a small program; version 2 changes one input, one replace trigger, drops one
/// resource and adds one.
fn program(version: u8) -> Program {
    Program::build("demo", Config::default(), |stack| {
        let tags = if version == 1 { value!({"env": "dev", "owner": "ops"}) } else { value!({"env": "prod", "owner": "ops"}) };
        let settings = Data::new(stack, "settings", tags);
        Data::new(stack, "release", settings.output()).triggers_replace(Value::from(if version == 1 { "r1" } else { "r2" }));
        Data::new(stack, "password", Output::secret(Value::from("hunter2")));
        if version == 1 {
            Data::new(stack, "legacy", "old");
        } else {
            let id_user = Data::new(stack, "id-user", Output::<Value>::unknown());
            Data::new(stack, "downstream", id_user.id()).depends_on(&settings);
        }
        stack.export("env", settings.output().map(|v| v.get("env").cloned().unwrap_or_default()));
        Ok(())
    })
    .expect("program builds")
}

fn engine() -> Engine {
    Engine::new(Arc::new(MemoryStore::new()))
}

#[tokio::test]
async fn human_plan_of_a_first_apply() {
    let plan = engine().plan(&program(1), &PlanOptions::default()).await.unwrap();
    insta::assert_snapshot!(render_human(&plan, false));
}

#[tokio::test]
async fn human_plan_of_changes_reads_like_a_diff() {
    let engine = engine();
    engine.up(&program(1), &PlanOptions::default()).await.unwrap();
    let plan = engine.plan(&program(2), &PlanOptions::default()).await.unwrap();
    let text = render_human(&plan, false);
    assert!(!text.contains("hunter2"), "secrets must never be printed:\n{text}");
    insta::assert_snapshot!(text);
}

#[tokio::test]
async fn json_plan_lists_every_step_and_redacts_secrets() {
    let engine = engine();
    engine.up(&program(1), &PlanOptions::default()).await.unwrap();
    let plan = engine.plan(&program(2), &PlanOptions::default()).await.unwrap();
    let json = render_json(&plan);
    assert!(!json.contains("hunter2"), "secrets must never be printed:\n{json}");
    insta::assert_snapshot!(json);
}

#[tokio::test]
async fn no_changes_after_apply() {
    let engine = engine();
    engine.up(&program(1), &PlanOptions::default()).await.unwrap();
    let plan = engine.plan(&program(1), &PlanOptions::default()).await.unwrap();
    assert!(!plan.has_changes());
    insta::assert_snapshot!(render_human(&plan, false), @"No changes. Stack `demo` matches the program (4 resources).");
}

#[tokio::test]
async fn colors_only_when_asked() {
    let plan = engine().plan(&program(1), &PlanOptions::default()).await.unwrap();
    assert!(!render_human(&plan, false).contains('\u{1b}'));
    assert!(render_human(&plan, true).contains('\u{1b}'));
}

#[tokio::test]
async fn lists_of_objects_render_one_object_per_block() {
    let engine = engine();
    let version = |image: &str| {
        let image = image.to_string();
        Program::build("demo", Config::default(), move |stack| {
            Data::new(stack, "containers", value!([{"name": "aws", "image": image}]));
            Ok(())
        })
        .unwrap()
    };
    engine.up(&version("amazon/aws-cli:1"), &PlanOptions::default()).await.unwrap();
    let plan = engine.plan(&version("amazon/aws-cli:2"), &PlanOptions::default()).await.unwrap();
    insta::assert_snapshot!(render_human(&plan, false));
}
