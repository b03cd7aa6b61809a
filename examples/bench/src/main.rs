//! The benchmark program: `n` generated resources in a chosen dependency shape, driven by
//! `tests/bench/bench.py` (which also generates the same shapes for Terraform).
//!
//! Configuration (`Strake.toml` or `--config key=value`):
//!
//! - `n` (default 100): how many resources.
//! - `shape` (default `independent`): `independent` (no dependencies), `layered` (`width`
//!   resources per layer, depth `ceil(n / width)`; resource `i` in layer k > 0 depends on `i - width`,
//!   the resource in the same column of layer k - 1) or `chain` (resource `i` depends on `i - 1`).
//! - `width` (default `round(sqrt(n))`): the layer width of `layered`.
//! - `payload` (default 300): bytes of the deterministic string each resource stores.
//! - `change_pct` (default 0): percentage of resources (spread evenly, deterministic) whose payload
//!   changes, to measure a plan after a small edit.
//! - `kind` (default `data`): `data` (the built-in `strake::Data`) or `slow` (`bench:index:Slow`, a
//!   fake provider whose every create, read, update and delete sleeps `latency_ms`, default 50).
//!
//! A dependency is made the way a user makes one: the downstream's input contains the upstream's
//! `id`, so it is unknown at plan time and the engine must wait for the upstream.
//!
//! ```text
//! cargo build --release -p strake-bench
//! target/release/strake-bench --dir /tmp/b --config n=1000 --config shape=layered apply --yes
//! target/release/strake-bench --dir /tmp/b --config n=1000 --config shape=layered plan
//! ```

fn main() -> std::process::ExitCode {
    let code = strake::run("bench", strake_bench::declare);
    strake_bench::report_peak_rss();
    code
}
