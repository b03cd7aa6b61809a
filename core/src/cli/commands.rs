//! The CLI's commands, each a thin layer over [`Engine`] and [`Session`](crate::Session).

use std::io::{BufRead, IsTerminal, Write as _};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use strake_state::secrets::{KeyProvider, SealedStore};
use strake_state::{RecordKind, Snapshot, StateStore};

use super::args::{Approval, Command, Global, PendingCommand, SecretsCommand, StateCommand};
use super::progress::Progress;
use crate::events::{JsonLinesObserver, Observer};
use crate::graph::Graph;
use crate::plan::{PlanMode, render_human, render_json};
use crate::{Engine, EngineOptions, Error, PlanOptions, Program, Urn, Value};

pub(crate) struct Context<'a> {
    pub program: &'a Program,
    pub store: Arc<SealedStore>,
    /// The key provider of the stack's secrets, if `[secrets]` names one.
    pub secrets: Option<Arc<dyn KeyProvider>>,
    pub options: EngineOptions,
    pub color: bool,
    pub global: &'a Global,
}

impl Context<'_> {
    fn engine(&self, observer: Option<Arc<dyn Observer>>) -> Engine {
        let engine = Engine::new(self.store.clone() as Arc<dyn StateStore>).with_options(self.options.clone());
        match observer {
            Some(o) => engine.with_observer(o),
            None => engine,
        }
    }

    /// The observer of an apply: JSON lines, or the progress display (returned too, so the plan
    /// can tell it which names need their type to be told apart).
    fn apply_observer(&self, json: bool) -> (Arc<dyn Observer>, Option<Arc<Progress>>) {
        if json {
            (Arc::new(JsonLinesObserver::new(std::io::stdout())), None)
        } else {
            let progress = Arc::new(Progress::new(std::io::stderr().is_terminal(), self.color));
            (progress.clone(), Some(progress))
        }
    }

    /// `--target` values as URNs: a full URN, or the name of one declared or recorded resource.
    fn targets(&self, snapshot: Option<&Snapshot>) -> Result<Vec<Urn>, Error> {
        if self.global.targets.is_empty() {
            return Ok(Vec::new());
        }
        let mut known: Vec<Urn> = self.program.resources.iter().map(|d| d.urn.clone()).collect();
        if let Some(s) = snapshot {
            known.extend(s.resources.iter().filter(|r| r.kind == RecordKind::Resource).filter_map(|r| Urn::parse(&r.urn).ok()));
        }
        known.sort();
        known.dedup();
        self.global.targets.iter().map(|t| resolve_urn(t, &known)).collect()
    }
}

fn resolve_urn(given: &str, known: &[Urn]) -> Result<Urn, Error> {
    if let Ok(urn) = Urn::parse(given) {
        return Ok(urn);
    }
    let matches: Vec<&Urn> = known.iter().filter(|u| u.name() == given).collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Error::UnknownResource { given: given.to_string() }),
        many => Err(Error::AmbiguousResource { given: given.to_string(), matches: many.iter().map(|u| u.to_string()).collect() }),
    }
}

pub(crate) async fn dispatch(ctx: Context<'_>, command: Command, on_interrupt: impl FnOnce(&Engine)) -> Result<ExitCode, Error> {
    match command {
        Command::Plan { deny_broadening, out, json, destroy, refresh } => {
            let code = plan(&ctx, out.as_deref(), json, destroy, refresh).await?;
            Ok(match code {
                Broadens::Yes if deny_broadening => {
                    eprintln!("The plan broadens access (see \"Access changes\"); refused by --deny-broadening.");
                    ExitCode::from(3)
                }
                Broadens::Yes | Broadens::No => ExitCode::from(2),
                Broadens::NoChanges => ExitCode::SUCCESS,
            })
        }
        Command::Apply { plan, yes, require_approval, json, refresh } => {
            let approval = if yes { Approval::Never } else { require_approval };
            let (observer, progress) = ctx.apply_observer(json);
            let engine = ctx.engine(Some(observer));
            on_interrupt(&engine);
            match plan {
                Some(file) => apply_saved(&ctx, &engine, &file).await,
                None => apply(&ctx, &engine, progress, PlanMode::Normal, approval, json, refresh).await,
            }
        }
        Command::Destroy { yes, json } => {
            let (observer, progress) = ctx.apply_observer(json);
            let engine = ctx.engine(Some(observer));
            on_interrupt(&engine);
            let approval = if yes { Approval::Never } else { Approval::AnyChange };
            apply(&ctx, &engine, progress, PlanMode::Destroy, approval, json, true).await
        }
        Command::Refresh => refresh(&ctx).await,
        Command::Import { urn, id } => {
            let urn = resolve_urn(&urn, &ctx.program.resources.iter().map(|d| d.urn.clone()).collect::<Vec<_>>())?;
            let engine = ctx.engine(None);
            engine.session(ctx.program, "import")?.import(&urn, &id).await?;
            println!("Imported `{id}` as {urn}. Run `plan` to see how it differs from the program.");
            Ok(ExitCode::SUCCESS)
        }
        Command::Graph { text } => {
            let graph = Graph::build(ctx.program, None).map_err(Error::Diagnostics)?;
            print!("{}", if text { graph.render_text() } else { graph.render_dot() });
            Ok(ExitCode::SUCCESS)
        }
        Command::Outputs { json, show_secrets } => outputs(&ctx, json, show_secrets),
        Command::Config => {
            print!("{}", config_listing(ctx.program));
            Ok(ExitCode::SUCCESS)
        }
        Command::State(cmd) => state(&ctx, cmd),
        Command::Secrets(cmd) => secrets(&ctx, cmd),
        Command::ForceUnlock { lock_id } => {
            ctx.store.force_unlock(&ctx.program.stack, &lock_id)?;
            println!("Lock {lock_id} on stack `{}` removed.", ctx.program.stack);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// What a plan found, for its exit code.
enum Broadens {
    NoChanges,
    No,
    Yes,
}

async fn plan(ctx: &Context<'_>, out: Option<&Path>, json: bool, destroy: bool, refresh: bool) -> Result<Broadens, Error> {
    let engine = ctx.engine(None);
    let mut session = engine.session(ctx.program, "plan")?;
    let targets = ctx.targets(Some(session.snapshot()?))?;
    let mode = if destroy { PlanMode::Destroy } else { PlanMode::Normal };
    let planned = super::kept_until_exit(session.plan(&PlanOptions { mode, targets, refresh }).await?);
    let plan = &planned.plan;
    if json {
        println!("{}", render_json(plan));
    } else {
        print!("{}", render_human(plan, ctx.color));
    }
    if let Some(path) = out {
        let key = ctx.store.data_key(&ctx.program.stack)?;
        write_private(path, &super::saved::seal(plan, key.as_ref())?)?;
        if !json {
            println!("\nSaved the plan to {}. Apply exactly it with `apply {}`.", path.display(), path.display());
        }
    }
    Ok(match (plan.has_changes(), plan.broadens()) {
        (false, _) => Broadens::NoChanges,
        (true, false) => Broadens::No,
        (true, true) => Broadens::Yes,
    })
}

async fn apply(
    ctx: &Context<'_>,
    engine: &Engine,
    progress: Option<Arc<Progress>>,
    mode: PlanMode,
    approval: Approval,
    json: bool,
    refresh: bool,
) -> Result<ExitCode, Error> {
    let operation = if mode == PlanMode::Destroy { "destroy" } else { "apply" };
    let mut session = engine.session(ctx.program, operation)?;
    session.resolve_pending().await?;
    let targets = ctx.targets(Some(session.snapshot()?))?;
    // Freed before the session ends, unlike a plan's: ending the session may compact the state
    // (see `LocalStore`), which needs room of its own.
    let planned = session.plan(&PlanOptions { mode, targets, refresh }).await?;
    if !json {
        print!("{}", render_human(&planned.plan, ctx.color));
    }
    if !planned.plan.has_changes() {
        return Ok(ExitCode::SUCCESS);
    }
    let ask = match approval {
        Approval::AnyChange => true,
        Approval::Broadening if planned.plan.broadens() => {
            println!("\nAccess broadens (see \"Access changes\" above).");
            true
        }
        Approval::Broadening => {
            if !json {
                println!("\nAccess does not broaden: applying without confirmation (--require-approval broadening).");
            }
            false
        }
        Approval::Never => false,
    };
    if ask && !confirm(operation)? {
        println!("{} cancelled; nothing was changed.", if mode == PlanMode::Destroy { "Destroy" } else { "Apply" });
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(progress) = &progress {
        progress.name_types_where_names_repeat(&planned.plan);
    }
    let report = session.apply(&planned).await?;
    if !json {
        let s = planned.plan.summary();
        let secs = report.elapsed.as_secs_f64();
        if mode == PlanMode::Destroy {
            println!("\nDestroy complete in {secs:.1}s: {} destroyed.", s.delete);
        } else {
            println!("\nApply complete in {secs:.1}s: {} created, {} updated, {} replaced, {} destroyed.", s.create, s.update, s.replace, s.delete);
            print_outputs(&report.outputs, false);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn apply_saved(ctx: &Context<'_>, engine: &Engine, file: &Path) -> Result<ExitCode, Error> {
    let bytes = std::fs::read(file).map_err(|e| Error::PlanFile(format!("cannot read the plan {}: {e}", file.display())))?;
    // Under the stack's lock: making the data key writes to the state.
    let mut session = engine.session(ctx.program, "apply")?;
    let key = ctx.store.data_key(&ctx.program.stack)?;
    let saved = super::saved::open(file, &bytes, &ctx.program.stack, key.as_ref()).map_err(|e| {
        // A plan made before the stack moved on (a `secrets rotate`, say) is stale, not damaged:
        // its sealed values read as plain data, enough to tell.
        match serde_json::from_slice::<crate::plan::Plan>(&bytes).map(|plan| session.check_fresh(&plan)) {
            Ok(Err(stale)) => stale,
            _ => e,
        }
    })?;
    let report = session.apply_saved(&saved).await?;
    println!("\nApply complete in {:.1}s: {} steps changed something.", report.elapsed.as_secs_f64(), report.changed);
    print_outputs(&report.outputs, false);
    Ok(ExitCode::SUCCESS)
}

fn confirm(operation: &str) -> Result<bool, Error> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::NeedsConfirmation { operation: operation.to_string() });
    }
    print!("\nDo you want to {operation}? Only 'yes' will be accepted: ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

async fn refresh(ctx: &Context<'_>) -> Result<ExitCode, Error> {
    let engine = ctx.engine(Some(Arc::new(Progress::new(false, ctx.color))));
    let report = engine.refresh(ctx.program).await?;
    if report.changed.is_empty() && report.gone.is_empty() {
        println!("Refresh found no drift: every recorded resource matches the cloud.");
    }
    for urn in &report.changed {
        println!("~ {urn}: changed outside Strake; state now records its current values");
    }
    for urn in &report.gone {
        println!("- {urn}: deleted outside Strake; removed from state (the next apply creates it again)");
    }
    Ok(ExitCode::SUCCESS)
}

fn recorded_outputs(snapshot: &Snapshot) -> crate::value::Map {
    snapshot
        .resources
        .iter()
        .find(|r| r.kind == RecordKind::StackOutputs)
        .and_then(|r| match Value::from(&r.outputs) {
            Value::Map(m) => Some(m),
            _ => None,
        })
        .unwrap_or_default()
}

fn print_outputs(outputs: &std::collections::BTreeMap<String, Value>, show_secrets: bool) {
    if outputs.is_empty() {
        return;
    }
    println!("\nOutputs:");
    for (k, v) in outputs {
        let shown = if show_secrets { v.reveal() } else { v.clone() };
        println!("    {k} = {shown}");
    }
}

fn outputs(ctx: &Context<'_>, json: bool, show_secrets: bool) -> Result<ExitCode, Error> {
    let engine = ctx.engine(None);
    let mut session = engine.session(ctx.program, "outputs")?;
    let outputs = recorded_outputs(session.snapshot()?);
    if json {
        let map: serde_json::Map<String, serde_json::Value> =
            outputs.iter().map(|(k, v)| (k.clone(), if show_secrets { v.reveal().to_json() } else { crate::plan::redact(v).to_json() })).collect();
        println!("{}", serde_json::Value::Object(map));
    } else if outputs.is_empty() {
        println!("Stack `{}` has no outputs recorded; run `apply` first.", ctx.program.stack);
    } else {
        for (k, v) in &outputs {
            println!("{k} = {}", if show_secrets { v.reveal() } else { v.clone() });
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `secrets rotate` and `secrets change-provider`, under the stack's lock.
fn secrets(ctx: &Context<'_>, cmd: SecretsCommand) -> Result<ExitCode, Error> {
    let stack = &ctx.program.stack;
    let (provider, done) = match cmd {
        SecretsCommand::Rotate => {
            let provider = ctx
                .secrets
                .clone()
                .ok_or_else(|| Error::Config(format!("stack `{stack}` has no `[secrets] provider` in Strake.toml; there is no key to rotate")))?;
            (provider, "under a new data key".to_string())
        }
        SecretsCommand::ChangeProvider { provider } => {
            let named = super::secrets::named(&provider, stack, super::secrets::NEW_PASSPHRASE_ENV)?;
            (named, format!("with the `{provider}` key provider; set `provider = \"{provider}\"` under [secrets] in Strake.toml now"))
        }
    };
    let engine = ctx.engine(None);
    let session = engine.session(ctx.program, "secrets")?;
    let meta = ctx.store.rekey(stack, &provider)?;
    drop(session);
    println!("Re-encrypted the secrets of stack `{stack}` {done} (serial {}).", meta.serial);
    Ok(ExitCode::SUCCESS)
}

fn state(ctx: &Context<'_>, cmd: StateCommand) -> Result<ExitCode, Error> {
    let engine = ctx.engine(None);
    // `history` and `restore` work when the current state cannot be read; the rest load it.
    let open = || engine.session(ctx.program, "state");
    match cmd {
        StateCommand::History => return history(ctx, &engine),
        StateCommand::Migrate { to } => return migrate(ctx, &to),
        StateCommand::Restore { generation, yes } => {
            let point = engine.history(&ctx.program.stack)?.into_iter().find(|p| p.generation == generation);
            let Some(point) = point else {
                return Err(Error::StateFile(format!(
                    "stack `{}` keeps no state of generation {generation}; `state history` lists them",
                    ctx.program.stack
                )));
            };
            println!(
                "Stack `{}` will be set to generation {generation} (serial {}, {} records, made by {}): the current state is replaced.",
                ctx.program.stack, point.serial, point.resources, point.made_by
            );
            if !yes && !confirm("restore")? {
                println!("Restore cancelled; nothing was changed.");
                return Ok(ExitCode::SUCCESS);
            }
            let meta = engine.restore(&ctx.program.stack, generation)?;
            println!(
                "Restored stack `{}` to generation {generation} (now serial {}). Run `refresh` to record what the cloud holds now.",
                ctx.program.stack, meta.serial
            );
        }
        StateCommand::List => {
            let mut session = open()?;
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
        }
        StateCommand::Show { urn } => {
            let mut session = open()?;
            let rec = session
                .snapshot()?
                .resources
                .iter()
                .find(|r| r.urn == urn || Urn::parse(&r.urn).map(|u| u.name() == urn).unwrap_or(false))
                .ok_or_else(|| Error::NotInState { stack: ctx.program.stack.clone(), urn: urn.clone() })?;
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
        }
        StateCommand::Rm { urn } => {
            let mut session = open()?;
            let known: Vec<Urn> = session.snapshot()?.resources.iter().filter_map(|r| Urn::parse(&r.urn).ok()).collect();
            let urn = resolve_urn(&urn, &known)?;
            session.forget(urn.as_str())?;
            println!("Removed {urn} from state; the cloud object was not touched.");
        }
        StateCommand::Export { out } => {
            // Under the stack's lock, as stored: with a key provider, sealed, with the wrapped key.
            let mut session = open()?;
            let exported = match ctx.store.export(&ctx.program.stack)? {
                Some(sealed) => sealed,
                None => session.snapshot()?.clone(),
            };
            let json = serde_json::to_vec_pretty(&exported).map_err(|e| Error::Internal(e.to_string()))?;
            match out {
                Some(path) => {
                    write_private(&path, &json)?;
                    let secrets = match &ctx.secrets {
                        Some(p) => format!("its secrets are sealed; importing it takes the stack's {}", p.name()),
                        None => "it contains secrets in clear: keep it private".into(),
                    };
                    eprintln!("Exported stack `{}` to {} ({secrets}).", ctx.program.stack, path.display());
                }
                None => println!("{}", String::from_utf8_lossy(&json)),
            }
        }
        StateCommand::Pending { command: None } => {
            let mut session = open()?;
            let pending = &session.snapshot()?.pending;
            if pending.is_empty() {
                println!("Stack `{}` has no interrupted operations.", ctx.program.stack);
            }
            for p in pending {
                let id = p.resource_id.as_deref().map(|id| format!(" object `{id}`")).unwrap_or_default();
                println!("{}  interrupted {} of {}{id}, started at unix time {}", p.id, kind_name(p.kind), p.urn, p.started_at);
            }
        }
        StateCommand::Pending { command: Some(PendingCommand::Rm { id }) } => {
            open()?.drop_pending(&id)?;
            println!("Dropped pending operation {id}; the cloud was not touched.");
        }
        StateCommand::Import { file } => {
            let mut session = open()?;
            let bytes = std::fs::read(&file).map_err(|e| Error::StateFile(format!("cannot read the state file {}: {e}", file.display())))?;
            let snapshot: Snapshot =
                serde_json::from_slice(&bytes).map_err(|e| Error::StateFile(format!("{} is not a Strake state export: {e}", file.display())))?;
            session.replace_state(snapshot)?;
            println!("Imported state of stack `{}` from {} (serial {}).", ctx.program.stack, file.display(), session.snapshot()?.meta.serial);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `state migrate --to`: the stack copied to another backend under both locks, checked, and left
/// in place in the source (the user switches `--backend` once satisfied).
fn migrate(ctx: &Context<'_>, to: &str) -> Result<ExitCode, Error> {
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
    Ok(ExitCode::SUCCESS)
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

/// The keys the program reads, one a line: key, what it expects, and its value and origin.
fn config_listing(program: &Program) -> String {
    use std::fmt::Write as _;
    let reads = program.config.reads();
    let mut out = String::new();
    if reads.is_empty() {
        let _ = writeln!(out, "Stack `{}` reads no configuration.", program.stack);
        return out;
    }
    let _ = writeln!(out, "Configuration of stack `{}` (Strake.toml beside the program, then --config key=value):", program.stack);
    let width = reads.iter().map(|r| r.key.len()).max().unwrap_or(0);
    for r in &reads {
        let expects = if r.expects == "any" { String::new() } else { format!("  ({})", r.expects) };
        let value = match program.config.value_of(&r.key) {
            Some((v, crate::config::Origin::File)) => format!("= \"{v}\"  from Strake.toml"),
            Some((v, crate::config::Origin::Flag)) => format!("= \"{v}\"  from --config"),
            Some((v, crate::config::Origin::Program)) => format!("= \"{v}\"  from the embedding program"),
            None => "not set (its default applies)".to_string(),
        };
        let _ = writeln!(out, "  {:<width$}  {value}{expects}", r.key);
    }
    out
}

fn history(ctx: &Context<'_>, engine: &Engine) -> Result<ExitCode, Error> {
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
    Ok(ExitCode::SUCCESS)
}

fn kind_name(kind: strake_state::PendingKind) -> &'static str {
    match kind {
        strake_state::PendingKind::Create => "create",
        strake_state::PendingKind::Update => "update",
        strake_state::PendingKind::Delete => "delete",
    }
}

/// Writes a file readable by its owner only (plans and exports may hold secrets): a new file of
/// mode 0600 beside `path`, synced, then renamed over it, so an existing file's wider mode is
/// never kept and a crash never leaves half a file.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    Ok(written?)
}
