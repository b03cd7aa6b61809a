//! The CLI's commands, each a thin layer over [`Engine`] and [`Session`](crate::Session).

use std::io::{BufRead, IsTerminal, Write as _};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use strake_state::secrets::{KeyProvider, SealedStore};
use strake_state::{RecordKind, Snapshot, StateStore};

use super::args::{Approval, Command, Global, SecretsCommand};
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
    pub(super) fn engine(&self, observer: Option<Arc<dyn Observer>>) -> Engine {
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

pub(super) fn resolve_urn(given: &str, known: &[Urn]) -> Result<Urn, Error> {
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
        Command::State(cmd) => super::state::state(&ctx, cmd),
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

pub(super) fn confirm(operation: &str) -> Result<bool, Error> {
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

/// Writes a file readable by its owner only (plans and exports may hold secrets): a new file of
/// mode 0600 beside `path`, synced, then renamed over it, so an existing file's wider mode is
/// never kept and a crash never leaves half a file.
pub(super) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
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
