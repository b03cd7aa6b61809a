//! `state`: inspecting, editing, exporting, restoring and moving the recorded state.

use std::path::Path;
use std::process::ExitCode;

use strake_state::{RecordKind, Snapshot, StateStore};

use super::args::{PendingCommand, StateCommand};
use super::commands::{Context, confirm, resolve_urn, write_private};
use crate::{Engine, Error, Session, Urn, Value};

/// `state`: what state holds, kept and changed by hand.
pub(super) fn state(ctx: &Context<'_>, cmd: StateCommand) -> Result<ExitCode, Error> {
    let engine = ctx.engine(None);
    // `history` and `restore` work when the current state cannot be read; the rest load it.
    let open = || engine.session(ctx.program, "state");
    match cmd {
        StateCommand::History => history(ctx, &engine)?,
        StateCommand::Migrate { to } => migrate(ctx, &to)?,
        StateCommand::Restore { generation, yes } => restore(ctx, &engine, generation, yes)?,
        StateCommand::List => list(ctx, &mut open()?)?,
        StateCommand::Show { urn } => show(ctx, &mut open()?, &urn)?,
        StateCommand::Rm { urn } => forget(&mut open()?, &urn)?,
        StateCommand::Export { out } => export(ctx, &mut open()?, out.as_deref())?,
        StateCommand::Pending { command: None } => list_pending(ctx, &mut open()?)?,
        StateCommand::Pending { command: Some(PendingCommand::Rm { id }) } => {
            open()?.drop_pending(&id)?;
            println!("Dropped pending operation {id}; the cloud was not touched.");
        }
        StateCommand::Import { file } => import(ctx, &mut open()?, &file)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `state restore`: the stack set back to an earlier generation.
fn restore(ctx: &Context<'_>, engine: &Engine, generation: u64, yes: bool) -> Result<(), Error> {
    let point = engine.history(&ctx.program.stack)?.into_iter().find(|p| p.generation == generation);
    let Some(point) = point else {
        return Err(Error::StateFile(format!("stack `{}` keeps no state of generation {generation}; `state history` lists them", ctx.program.stack)));
    };
    println!(
        "Stack `{}` will be set to generation {generation} (serial {}, {} records, made by {}): the current state is replaced.",
        ctx.program.stack, point.serial, point.resources, point.made_by
    );
    if !yes && !confirm("restore")? {
        println!("Restore cancelled; nothing was changed.");
        return Ok(());
    }
    let meta = engine.restore(&ctx.program.stack, generation)?;
    println!(
        "Restored stack `{}` to generation {generation} (now serial {}). Run `refresh` to record what the cloud holds now.",
        ctx.program.stack, meta.serial
    );
    Ok(())
}

/// `state list`: the recorded resources and interrupted operations.
fn list(ctx: &Context<'_>, session: &mut Session<'_>) -> Result<(), Error> {
    if !session.exists()? {
        println!("Stack `{}` has no state yet.", ctx.program.stack);
    }
    let s = session.snapshot()?;
    for r in s.resources.iter().filter(|r| r.kind == RecordKind::Resource) {
        println!("{}  id={}", r.urn, r.id);
    }
    for p in &s.pending {
        println!("(interrupted {}) {}", kind_name(p.kind), p.urn);
    }
    Ok(())
}

/// `state show`: one record, its secrets redacted.
fn show(ctx: &Context<'_>, session: &mut Session<'_>, urn: &str) -> Result<(), Error> {
    let rec = session
        .snapshot()?
        .resources
        .iter()
        .find(|r| r.urn == urn || Urn::parse(&r.urn).map(|u| u.name() == urn).unwrap_or(false))
        .ok_or_else(|| Error::NotInState { stack: ctx.program.stack.clone(), urn: urn.to_string() })?;
    let shown = serde_json::json!({
        "urn": rec.urn,
        "kind": rec.kind,
        "type": rec.type_token,
        "id": rec.id,
        "provider": rec.provider,
        "dependencies": rec.dependencies,
        "protect": rec.protect,
        "retain_on_delete": rec.retain_on_delete,
        "inputs": crate::plan::redact(&Value::from(&rec.inputs)).to_json(),
        "outputs": crate::plan::redact(&Value::from(&rec.outputs)).to_json(),
    });
    println!("{}", serde_json::to_string_pretty(&shown).unwrap_or_default());
    Ok(())
}

/// `state rm`: a record forgotten; the cloud object is left alone.
fn forget(session: &mut Session<'_>, urn: &str) -> Result<(), Error> {
    let known: Vec<Urn> = session.snapshot()?.resources.iter().filter_map(|r| Urn::parse(&r.urn).ok()).collect();
    let urn = resolve_urn(urn, &known)?;
    session.forget(urn.as_str())?;
    println!("Removed {urn} from state; the cloud object was not touched.");
    Ok(())
}

/// `state export`: the state under the stack's lock, as stored (with a key provider, sealed, with
/// the wrapped key).
fn export(ctx: &Context<'_>, session: &mut Session<'_>, out: Option<&Path>) -> Result<(), Error> {
    let exported = match ctx.store.export(&ctx.program.stack)? {
        Some(sealed) => sealed,
        None => session.snapshot()?.clone(),
    };
    let json = serde_json::to_vec_pretty(&exported).map_err(|e| Error::Internal(e.to_string()))?;
    match out {
        Some(path) => {
            write_private(path, &json)?;
            let secrets = match &ctx.secrets {
                Some(p) => format!("its secrets are sealed; importing it takes the stack's {}", p.name()),
                None => "it contains secrets in clear: keep it private".into(),
            };
            eprintln!("Exported stack `{}` to {} ({secrets}).", ctx.program.stack, path.display());
        }
        None => println!("{}", String::from_utf8_lossy(&json)),
    }
    Ok(())
}

/// `state pending`: the interrupted operations.
fn list_pending(ctx: &Context<'_>, session: &mut Session<'_>) -> Result<(), Error> {
    let pending = &session.snapshot()?.pending;
    if pending.is_empty() {
        println!("Stack `{}` has no interrupted operations.", ctx.program.stack);
    }
    for p in pending {
        let id = p.resource_id.as_deref().map(|id| format!(" object `{id}`")).unwrap_or_default();
        println!("{}  interrupted {} of {}{id}, started at unix time {}", p.id, kind_name(p.kind), p.urn, p.started_at);
    }
    Ok(())
}

/// `state import`: the state replaced by an export.
fn import(ctx: &Context<'_>, session: &mut Session<'_>, file: &Path) -> Result<(), Error> {
    let bytes = std::fs::read(file).map_err(|e| Error::StateFile(format!("cannot read the state file {}: {e}", file.display())))?;
    let snapshot: Snapshot =
        serde_json::from_slice(&bytes).map_err(|e| Error::StateFile(format!("{} is not a Strake state export: {e}", file.display())))?;
    session.replace_state(snapshot)?;
    println!("Imported state of stack `{}` from {} (serial {}).", ctx.program.stack, file.display(), session.snapshot()?.meta.serial);
    Ok(())
}

/// `state migrate --to`: the stack copied to another backend under both locks, checked, and left
/// in place in the source (the user switches `--backend` once satisfied).
fn migrate(ctx: &Context<'_>, to: &str) -> Result<(), Error> {
    let stack = &ctx.program.stack;
    let target = super::backend::open(&super::program_dir(ctx.global.dir.clone()), Some(to), &ctx.program.config, ctx.secrets.clone())?;
    let info = strake_state::LockInfo::for_current_process("state migrate");
    ctx.store.lock(stack, &info)?;
    let copied = (|| {
        target.lock(stack, &info)?;
        let copied = copy_stack(ctx.store.as_ref(), target.as_ref(), stack, to);
        let released = target.unlock(stack, &info.id);
        let copied = copied?;
        released?;
        Ok::<_, Error>(copied)
    })();
    let released = ctx.store.unlock(stack, &info.id);
    let snapshot = copied?;
    released?;
    println!(
        "Migrated stack `{stack}` to {to}: serial {}, lineage {}, {} records, checked. The source is left as it was; use `--backend {to}` (or `url` under [backend] in Strake.toml) from now on.",
        snapshot.meta.serial,
        snapshot.meta.lineage,
        snapshot.resources.len()
    );
    Ok(())
}

/// Copies `stack` from `source` to an empty `target` and reads the copy back to compare.
fn copy_stack(source: &dyn StateStore, target: &dyn StateStore, stack: &str, to: &str) -> Result<Snapshot, Error> {
    let Some(snapshot) = source.load(stack)? else {
        return Err(Error::StateFile(format!("stack `{stack}` has no state here to migrate")));
    };
    if target.load(stack)?.is_some() {
        return Err(Error::StateFile(format!("{to} already holds a stack `{stack}`; nothing was copied (migrate only to a backend without it)")));
    }
    target.import(snapshot.clone())?;
    let copy = target.load(stack)?;
    // A stack that only ever recorded pending operations is at serial 0; a copy starts at 1.
    let same = copy.as_ref().is_some_and(|c| {
        (&c.resources, &c.pending, &c.meta.lineage, c.meta.serial)
            == (&snapshot.resources, &snapshot.pending, &snapshot.meta.lineage, snapshot.meta.serial.max(1))
    });
    if !same {
        return Err(Error::StateFile(format!(
            "the copy of stack `{stack}` in {to} differs from the source after writing; the source is unchanged, do not switch to the copy"
        )));
    }
    Ok(snapshot)
}

/// `state history`: the generations kept, and whether the current one can be used.
fn history(ctx: &Context<'_>, engine: &Engine) -> Result<(), Error> {
    let points = engine.history(&ctx.program.stack)?;
    if points.is_empty() {
        println!("Stack `{}` keeps no earlier states.", ctx.program.stack);
    }
    println!("{:>10}  {:>7}  {:>10}  {:>9}  {:>7}  made by", "generation", "serial", "unix time", "resources", "pending");
    for p in &points {
        println!("{:>10}  {:>7}  {:>10}  {:>9}  {:>7}  {}", p.generation, p.serial, p.time, p.resources, p.pending, p.made_by);
    }
    match ctx.store.load(&ctx.program.stack) {
        Ok(_) => println!("The current state is intact."),
        Err(e) => println!("The current state cannot be used: {e}"),
    }
    Ok(())
}

fn kind_name(kind: strake_state::PendingKind) -> &'static str {
    match kind {
        strake_state::PendingKind::Create => "create",
        strake_state::PendingKind::Update => "update",
        strake_state::PendingKind::Delete => "delete",
    }
}
