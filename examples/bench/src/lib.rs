//! The benchmark program's resources, shared by the `strake-bench` program (`src/main.rs`) and
//! the `phases` diagnostic (`src/bin/phases.rs`). See `src/main.rs` for the configuration keys.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use strake::prelude::*;
use strake::provider::*;
use strake::{Config, Resource};

/// The fake provider's package and its one resource type.
pub const PACKAGE: &str = "bench";
pub const SLOW_TYPE: &str = "bench:index:Slow";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Independent,
    Layered,
    Chain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Data,
    Slow,
}

struct Params {
    n: usize,
    shape: Shape,
    width: usize,
    payload: usize,
    change_pct: f64,
    kind: Kind,
    latency_ms: u64,
}

fn parse<T: std::str::FromStr>(config: &Config, key: &str, default: T) -> Result<T, Error> {
    match config.get(key) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| Error::Config(format!("`{key}` = `{v}` is not a valid number"))),
    }
}

impl Params {
    fn from_config(config: &Config) -> Result<Params, Error> {
        let n: usize = parse(config, "n", 100)?;
        let shape = match config.get_or("shape", "independent").as_str() {
            "independent" => Shape::Independent,
            "layered" => Shape::Layered,
            "chain" => Shape::Chain,
            other => return Err(Error::Config(format!("`shape` = `{other}`: expected independent, layered or chain"))),
        };
        let kind = match config.get_or("kind", "data").as_str() {
            "data" => Kind::Data,
            "slow" => Kind::Slow,
            other => return Err(Error::Config(format!("`kind` = `{other}`: expected data or slow"))),
        };
        let default_width = ((n as f64).sqrt().round() as usize).max(1);
        let width: usize = parse(config, "width", default_width)?;
        if width == 0 {
            return Err(Error::Config("`width` must be at least 1".into()));
        }
        Ok(Params {
            n,
            shape,
            width,
            payload: parse(config, "payload", 300)?,
            change_pct: parse(config, "change_pct", 0.0)?,
            kind,
            latency_ms: parse(config, "latency_ms", 50)?,
        })
    }

    /// The resource resource `i` depends on, if any.
    fn upstream(&self, i: usize) -> Option<usize> {
        match self.shape {
            Shape::Independent => None,
            Shape::Chain => i.checked_sub(1),
            Shape::Layered => i.checked_sub(self.width),
        }
    }

    /// Which resources get a changed payload: `round(n * pct / 100)` of them (at least one when
    /// `pct > 0`), evenly spread. `tests/bench/bench.py` computes the same selection for Terraform.
    fn changed(&self) -> Vec<bool> {
        let mut out = vec![false; self.n];
        if self.change_pct <= 0.0 || self.n == 0 {
            return out;
        }
        let k = (((self.n as f64) * self.change_pct / 100.0 + 0.5).floor() as usize).clamp(1, self.n);
        let stride = self.n as f64 / k as f64;
        for j in 0..k {
            let i = ((j as f64) * stride + stride / 2.0).floor() as usize;
            if i < self.n {
                out[i] = true;
            }
        }
        out
    }
}

/// The deterministic payload of resource `i`: `p00000042-` (or `c...` once changed) repeated to `len` bytes.
fn payload(i: usize, changed: bool, len: usize) -> String {
    let unit = format!("{}{i:08}-", if changed { 'c' } else { 'p' });
    unit.repeat(len / unit.len() + 1)[..len].to_string()
}

/// Declares the benchmark's resources from the stack's configuration.
pub fn declare(stack: &Stack) -> Result<(), Error> {
    let p = Params::from_config(&stack.config())?;
    let changed = p.changed();
    let slow = (p.kind == Kind::Slow).then(|| stack.provider("slow", SlowProviderArgs { latency_ms: p.latency_ms }));
    let mut declared: Vec<Resource> = Vec::with_capacity(p.n);
    for (i, &changed) in changed.iter().enumerate() {
        let text = payload(i, changed, p.payload);
        let input: Output<Value> = match p.upstream(i) {
            None => Output::new(Value::from_pairs([("payload", Value::from(text))])),
            Some(u) => declared[u].id().map(move |id| Value::from_pairs([("payload", Value::from(text.clone())), ("upstream", Value::from(id))])),
        };
        let name = format!("r{i}");
        let resource = match &slow {
            None => Data::new(stack, &name, input).resource().clone(),
            Some(provider) => {
                let r = stack.resource(SLOW_TYPE, &name).provider(provider);
                r.set_input("input", input);
                r
            }
        };
        declared.push(resource);
    }
    Ok(())
}

/// With `STRAKE_BENCH_PEAK_RSS_FILE` set, writes this process's peak RSS (`VmHWM`, KiB) there.
///
/// The driver also takes `ru_maxrss` from `wait4`, but Linux folds the parent's high-water mark
/// at `exec` time into it (about 18 MiB for a Python parent), which hides small values; `VmHWM`
/// counts this program's own memory only.
pub fn report_peak_rss() {
    let Some(path) = std::env::var_os("STRAKE_BENCH_PEAK_RSS_FILE") else { return };
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(kib) = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).map(|v| v.trim().trim_end_matches("kB").trim()) {
        let _ = std::fs::write(path, kib);
    }
}

/// Declares the latency-injected fake provider: `stack.provider("slow", SlowProviderArgs { latency_ms: 50 })`.
pub struct SlowProviderArgs {
    pub latency_ms: u64,
}

impl ProviderConfig for SlowProviderArgs {
    fn config(&self) -> Output<Value> {
        Output::new(Value::from_pairs([("latency_ms", Value::from(self.latency_ms as i64))]))
    }

    fn factory(&self) -> Arc<dyn ProviderFactory> {
        Arc::new(SlowFactory)
    }
}

struct SlowFactory;

fn latency_of(config: &Value) -> Option<u64> {
    match config.get("latency_ms") {
        Some(Value::Number(n)) => n.as_u64(),
        _ => None,
    }
}

#[async_trait]
impl ProviderFactory for SlowFactory {
    fn package(&self) -> &str {
        PACKAGE
    }

    fn check_config(&self, config: &Value) -> Vec<CheckFailure> {
        match latency_of(config) {
            Some(_) => Vec::new(),
            None => vec![CheckFailure::new("latency_ms", "expected a non-negative number of milliseconds")],
        }
    }

    async fn configure(&self, config: Value) -> Result<Arc<dyn Provider>, ProviderError> {
        let ms = latency_of(&config).ok_or_else(|| ProviderError::permanent("`latency_ms` must be a non-negative number"))?;
        Ok(Arc::new(SlowProvider { latency: Duration::from_millis(ms) }))
    }
}

/// Every I/O call sleeps `latency` (like a cloud API round trip) and stores nothing outside state:
/// what state records is what "exists".
struct SlowProvider {
    latency: Duration,
}

fn slow_outputs(inputs: &Value) -> Value {
    Value::from_pairs([("output", inputs.get("input").cloned().unwrap_or(Value::Null))])
}

#[async_trait]
impl Provider for SlowProvider {
    fn created_lookup(&self, _type_token: &str) -> CreatedLookup {
        CreatedLookup::FromInputs
    }

    fn check(&self, req: CheckRequest) -> CheckResponse {
        let mut failures = Vec::new();
        if req.type_token != SLOW_TYPE {
            failures.push(CheckFailure::new("", format!("the bench package has no type `{}`", req.type_token)));
        }
        CheckResponse::new(req.inputs).with_failures(failures)
    }

    fn preview(&self, req: PreviewRequest) -> Value {
        slow_outputs(&req.inputs)
    }

    async fn create(&self, req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        tokio::time::sleep(self.latency).await;
        Ok(CreateResponse::new(format!("slow-{}", req.urn.name()), slow_outputs(&req.inputs)))
    }

    async fn read(&self, req: ReadRequest) -> Result<ReadResponse, ProviderError> {
        tokio::time::sleep(self.latency).await;
        Ok(match req.id {
            Some(id) => ReadResponse::found(id, req.inputs, req.outputs),
            None => ReadResponse::Gone,
        })
    }

    async fn update(&self, req: UpdateRequest) -> Result<UpdateResponse, ProviderError> {
        tokio::time::sleep(self.latency).await;
        Ok(UpdateResponse::new(slow_outputs(&req.compared.new_inputs)))
    }

    async fn delete(&self, _req: DeleteRequest) -> Result<(), ProviderError> {
        tokio::time::sleep(self.latency).await;
        Ok(())
    }
}
