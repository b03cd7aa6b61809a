//! Embedding Strake: another tool builds a program, plans and applies it with [`strake::Engine`],
//! and reads the results, with no CLI involved. State lives in memory here; pass a
//! `strake_state::LocalStore` to keep it.

use std::sync::Arc;

use strake::plan::render_human;
use strake::prelude::*;
use strake::{Config, Engine, PlanOptions, Program};
use strake_state::MemoryStore;

fn program(replicas: i64) -> Result<Program, Error> {
    Program::build("embedded", Config::default(), |stack| {
        let settings = Data::new(stack, "settings", value!({ "replicas": replicas }));
        Data::new(stack, "rollout", settings.output());
        stack.export("settings", settings.output());
        Ok(())
    })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let engine = Engine::new(Arc::new(MemoryStore::new()));

    let first = program(2)?;
    let plan = engine.plan(&first, &PlanOptions::default()).await?;
    print!("{}", render_human(&plan, false));
    let report = engine.up(&first, &PlanOptions::default()).await?;
    println!("applied {} changes; settings = {}\n", report.changed, report.outputs["settings"]);

    let second = program(3)?;
    let plan = engine.plan(&second, &PlanOptions::default()).await?;
    print!("{}", render_human(&plan, false));
    engine.up(&second, &PlanOptions::default()).await?;

    let again = engine.plan(&second, &PlanOptions::default()).await?;
    assert!(!again.has_changes(), "a re-plan after apply must be empty");
    println!("re-plan after apply: no changes");
    Ok(())
}
