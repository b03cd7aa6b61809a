#!/usr/bin/env python3
"""Strake vs Terraform benchmark driver (python3 standard library only).

Builds the `strake-bench` program (examples/bench) in release mode, then for each scenario
(shape x N) runs its commands in fresh temporary program directories and measures the wall time
and peak RSS of every command (os.wait4 on the child). When `terraform` is on PATH it generates
the same shapes with `terraform_data` and measures Terraform the same way, interleaved with
Strake operation by operation (N=100 and 1,000).

    python3 tests/bench/bench.py --quick          # N=100 and 1,000, 1 run
    python3 tests/bench/bench.py                  # full: N=100, 1k, 10k (all ops), 100k (apply, no-op plan)
    python3 tests/bench/bench.py --no-terraform --sizes 1000,10000 --runs 5

See tests/bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target") / "release" / "strake-bench"
SHAPES = ("independent", "layered", "chain")
OPS = ("apply", "plan (no-op)", "plan (1% changed)", "destroy")
BIG_OPS = ("apply", "plan (no-op)")  # at N >= BIG_N
BIG_N = 100_000
PAYLOAD = 300
CHANGE_PCT = 1.0
PARALLELISM = 10
COMMAND_TIMEOUT = 3600.0

# Targets (Terraform time / Strake time at every N both run; Strake RSS / Terraform RSS).
TIME_TARGETS = {"apply": 50.0, "destroy": 50.0, "plan (no-op)": 25.0}
RSS_TARGET = 0.25
LATENCY_TARGET = 1.15
# At N >= BIG_N (Strake alone): peak RSS per resource, and the no-op plan's wall time.
BIG_KIB_PER_RESOURCE = 4.0
BIG_PLAN_SECONDS = 2.0


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Measuring one command


@dataclass
class Measured:
    seconds: float
    rss_mib: float
    code: int
    stdout: str
    cpu: float = 0.0  # user + system seconds of the child


def measure(argv: list[str], cwd: Path, env: dict[str, str] | None, log_path: Path, self_rss: bool = False) -> Measured:
    """Runs argv with stdout+stderr to log_path; wall time and the child's peak RSS.

    The peak RSS is `ru_maxrss` from os.wait4. Linux folds the high-water mark of the mm the child
    had before `exec` (this Python process's, about 18 MiB) into it, so it cannot go below that
    floor (printed with the results). With `self_rss`, the program (strake-bench) writes its own
    `VmHWM` (the same kernel counter, for its own memory only) to a file, and that is used instead.
    """
    rss_file = log_path.with_suffix(".peak-rss")
    if self_rss:
        env = dict(env if env is not None else os.environ, STRAKE_BENCH_PEAK_RSS_FILE=str(rss_file))
    with open(log_path, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        timer = threading.Timer(COMMAND_TIMEOUT, lambda: _kill(proc.pid))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped; keep Popen quiet
    text = log_path.read_text(errors="replace")
    rss_kib = float(usage.ru_maxrss)  # KiB on Linux
    if self_rss:
        try:
            rss_kib = float(rss_file.read_text().strip())
        except (OSError, ValueError):
            pass  # the program did not report (e.g. it crashed): keep ru_maxrss
    return Measured(elapsed, rss_kib / 1024.0, proc.returncode, text, usage.ru_utime + usage.ru_stime)


def rss_floor(workdir: Path) -> float:
    """ru_maxrss of a trivial child: the floor wait4 reports for any child of this process."""
    return measure(["true"], workdir, None, workdir / "floor.log").rss_mib


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class CommandFailed(RuntimeError):
    pass


def expect(m: Measured, codes: tuple[int, ...], what: str, log_path: Path) -> Measured:
    if m.code not in codes:
        tail = "\n".join(m.stdout.splitlines()[-25:])
        raise CommandFailed(f"{what}: exit code {m.code}, expected {codes}; log {log_path}:\n{tail}")
    return m


# --------------------------------------------------------------------------------------------
# The generated program (the same rules as examples/bench/src/main.rs)


def default_width(n: int) -> int:
    return max(1, round(math.sqrt(n)))


def depth_of(shape: str, n: int, width: int) -> int:
    return {"independent": 1, "layered": math.ceil(n / width), "chain": n}[shape]


def upstream(shape: str, i: int, width: int) -> int | None:
    if shape == "chain":
        return i - 1 if i >= 1 else None
    if shape == "layered":
        return i - width if i >= width else None
    return None


def changed_set(n: int, pct: float) -> set[int]:
    if pct <= 0 or n == 0:
        return set()
    k = min(n, max(1, math.floor(n * pct / 100.0 + 0.5)))  # at least one; half rounds up, as in Rust
    stride = n / k
    return {int(math.floor(j * stride + stride / 2.0)) for j in range(k)} & set(range(n))


def payload(i: int, changed: bool, length: int) -> str:
    unit = f"{'c' if changed else 'p'}{i:08d}-"
    return (unit * (length // len(unit) + 1))[:length]


def terraform_config(shape: str, n: int, width: int, change_pct: float) -> str:
    changed = changed_set(n, change_pct)
    parts = []
    for i in range(n):
        up = upstream(shape, i, width)
        upstream_line = f"\n    upstream = terraform_data.r{up}.id" if up is not None else ""
        parts.append(
            f'resource "terraform_data" "r{i}" {{\n  input = {{\n    payload = "{payload(i, i in changed, PAYLOAD)}"'
            f"{upstream_line}\n  }}\n}}\n"
        )
    return "\n".join(parts)


def strake_toml(shape: str, n: int, width: int) -> str:
    return f'n = "{n}"\nshape = "{shape}"\nwidth = "{width}"\npayload = "{PAYLOAD}"\nkind = "data"\n'


def count_changes(tool: str, text: str) -> tuple[int, int, int] | None:
    """(create, update, delete) from the plan summary line."""
    if tool == "strake":
        m = re.search(r"Plan: (\d+) to create, (\d+) to update, (\d+) to replace, (\d+) to destroy", text)
        return (int(m[1]), int(m[2]), int(m[4])) if m else None
    m = re.search(r"Plan: (\d+) to add, (\d+) to change, (\d+) to destroy", text)
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


# --------------------------------------------------------------------------------------------
# Runners: one full cycle in a fresh directory, returning {operation: Measured}


class Runner:
    tool = ""

    def __init__(self, workdir: Path, keep: bool):
        self.workdir = workdir
        self.keep = keep

    def fresh_dir(self, label: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=f"{self.tool}-{label}-", dir=self.workdir))

    def cleanup(self, d: Path) -> None:
        if not self.keep:
            shutil.rmtree(d, ignore_errors=True)


class StrakeRunner(Runner):
    tool = "strake"

    def cmd(self, d: Path, *args: str) -> list[str]:
        # `plan` keeps its default refresh (on), like Terraform's default.
        return [str(BINARY), "--dir", str(d), "--parallelism", str(PARALLELISM), *args]

    def steps(self, shape: str, n: int, width: int, ops: tuple[str, ...]) -> Iterator[tuple[str, Measured]]:
        d = self.fresh_dir(f"{shape}-{n}")
        (d / "Strake.toml").write_text(strake_toml(shape, n, width))
        k = len(changed_set(n, CHANGE_PCT))
        try:
            for i, op in enumerate(ops):
                lp = d / f"{op.split()[0]}-{i}.log"
                if op == "apply":
                    m = expect(measure(self.cmd(d, "apply", "--yes"), d, None, lp, True), (0,), "strake apply", lp)
                elif op == "plan (no-op)":
                    m = expect(measure(self.cmd(d, "plan"), d, None, lp, True), (0,), "strake no-op plan", lp)
                elif op == "plan (1% changed)":
                    argv = self.cmd(d, "--config", f"change_pct={CHANGE_PCT:g}", "plan")
                    m = expect(measure(argv, d, None, lp, True), (2,), "strake 1% plan", lp)
                    got = count_changes("strake", m.stdout)
                    if got != (0, k, 0):
                        raise CommandFailed(f"strake 1% plan: expected {k} updates only, got {got}; log {lp}")
                elif op == "destroy":
                    m = expect(measure(self.cmd(d, "destroy", "--yes"), d, None, lp, True), (0,), "strake destroy", lp)
                else:
                    raise ValueError(op)
                yield op, m
        finally:
            self.cleanup(d)


class TerraformRunner(Runner):
    tool = "terraform"

    def __init__(self, workdir: Path, keep: bool, terraform: str):
        super().__init__(workdir, keep)
        self.terraform = terraform
        cli_config = workdir / "terraformrc"
        cli_config.write_text("")  # an empty CLI config: no warning, no plugin cache
        self.env = dict(os.environ, TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1", TF_CLI_CONFIG_FILE=str(cli_config))
        self.env.pop("TF_LOG", None)

    def run(self, d: Path, args: list[str], codes: tuple[int, ...], what: str, name: str) -> Measured:
        lp = d / f"{name}.log"
        return expect(measure([self.terraform, *args, "-no-color"], d, self.env, lp), codes, what, lp)

    def steps(self, shape: str, n: int, width: int, ops: tuple[str, ...]) -> Iterator[tuple[str, Measured]]:
        d = self.fresh_dir(f"{shape}-{n}")
        main_tf = d / "main.tf"
        base = terraform_config(shape, n, width, 0.0)
        main_tf.write_text(base)
        k = len(changed_set(n, CHANGE_PCT))
        try:
            self.run(d, ["init", "-input=false"], (0,), "terraform init", "init")
            for op in ops:
                if op == "apply":
                    m = self.run(d, ["apply", "-auto-approve", f"-parallelism={PARALLELISM}", "-input=false"], (0,), "terraform apply", "apply")
                elif op == "plan (no-op)":
                    m = self.run(d, ["plan", "-input=false", "-detailed-exitcode"], (0,), "terraform no-op plan", "plan-noop")
                elif op == "plan (1% changed)":
                    main_tf.write_text(terraform_config(shape, n, width, CHANGE_PCT))
                    m = self.run(d, ["plan", "-input=false", "-detailed-exitcode"], (2,), "terraform 1% plan", "plan-change")
                    main_tf.write_text(base)
                    got = count_changes("terraform", m.stdout)
                    if got != (0, k, 0):
                        raise CommandFailed(f"terraform 1% plan: expected {k} changes only, got {got}; log {d}/plan-change.log")
                elif op == "destroy":
                    m = self.run(d, ["destroy", "-auto-approve", f"-parallelism={PARALLELISM}", "-input=false"], (0,), "terraform destroy", "destroy")
                else:
                    raise ValueError(op)
                yield op, m
        finally:
            self.cleanup(d)


# --------------------------------------------------------------------------------------------
# Results


@dataclass
class Cell:
    seconds: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def add(self, m: Measured) -> None:
        self.seconds.append(m.seconds)
        self.rss.append(m.rss_mib)
        self.cpu.append(m.cpu)

    @property
    def c(self) -> float:
        return statistics.median(self.cpu)

    @property
    def t(self) -> float:
        return statistics.median(self.seconds)

    @property
    def m(self) -> float:
        return statistics.median(self.rss)


def run_interleaved(runners: list[Runner], shape: str, n: int, runs: int, results: dict, ops: tuple[str, ...],
                    failures: list[str]) -> None:
    """Runs `runs` cycles of every runner, interleaved operation by operation (Strake's apply, then
    Terraform's, then Strake's no-op plan, ...), so that a change of load on the machine falls on
    both tools alike; who goes first alternates between runs. Every runner gets the same number
    of runs. A failed command is reported and ends that tool's scenario, not the other's."""
    width = default_width(n)
    live = list(runners)
    for r in range(runs):
        order = list(live) if r % 2 == 0 else live[::-1]
        cycles = {runner.tool: runner.steps(shape, n, width, ops) for runner in order}
        parts: dict[str, list[str]] = {runner.tool: [] for runner in order}
        started = time.perf_counter()
        try:
            for _ in ops:
                for runner in order:
                    steps = cycles.get(runner.tool)
                    if steps is None:
                        continue
                    try:
                        op, m = next(steps)
                    except CommandFailed as e:
                        failures.append(f"{runner.tool} {shape} N={n:,}: {str(e).splitlines()[0]}")
                        log(f"  [{runner.tool} {shape} N={n} run {r + 1}/{runs}] FAILED: {e}")
                        del cycles[runner.tool]
                        live.remove(runner)
                        continue
                    results.setdefault((runner.tool, shape, n, op), Cell()).add(m)
                    parts[runner.tool].append(f"{op} {m.seconds:.3f}s/{m.cpu:.3f}cpu/{m.rss_mib:.0f}MiB")
        finally:
            for steps in cycles.values():
                steps.close()  # each cycle removes its directory
        for tool, done in parts.items():
            if done:
                log(f"  [{tool} {shape} N={n} run {r + 1}/{runs}, pair {time.perf_counter() - started:.0f}s] " + ", ".join(done))
        if not live:
            return


def fmt_ratio(x: float | None) -> str:
    return "-" if x is None else (f"{x:.0f}x" if x >= 10 else f"{x:.1f}x")


def print_table(results: dict, shapes: list[str], sizes: list[int], runs: int, pair_runs: int) -> None:
    header = [
        "scenario", "N", "operation", "strake s", "cpu s", "strake MiB", "us/res",
        "tf s", "tf MiB", "tf/strake time", "target", "strake/tf RSS", "target",
    ]
    rows = []
    for shape in shapes:
        for n in sizes:
            width = default_width(n)
            label = {"layered": f"layered {width}x{math.ceil(n / width)}"}.get(shape, shape)
            for op in OPS:
                s = results.get(("strake", shape, n, op))
                if s is None:
                    continue
                tf = results.get(("terraform", shape, n, op))
                row = [label, f"{n:,}", op, f"{s.t:.3f}", f"{s.c:.3f}", f"{s.m:.1f}", f"{s.t / n * 1e6:.0f}"]
                if tf is None:
                    row += ["-", "-", "-", "-", "-", "-"]
                else:
                    speed = tf.t / s.t
                    rss = s.m / tf.m
                    target = TIME_TARGETS.get(op)
                    speed_verdict = "-" if target is None else f">={target:.0f}x {'ok' if speed >= target else 'MISS'}"
                    rss_verdict = f"<={RSS_TARGET:.2f} {'ok' if rss <= RSS_TARGET else 'MISS'}"
                    row += [f"{tf.t:.2f}", f"{tf.m:.1f}", fmt_ratio(speed), speed_verdict, f"{rss:.3f}", rss_verdict]
                rows.append(row)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    line = "  ".join(h.ljust(w) if i < 3 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths)))
    print(f"\nStrake vs Terraform (median of {runs} run(s) where Strake runs alone, of {pair_runs} run(s) of each tool where both run, "
          f"interleaved operation by operation; parallelism {PARALLELISM}; "
          f"~{PAYLOAD}-byte input per resource; plan with refresh on; 'cpu s' = Strake's user+system CPU time)")
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))


def growth(per: list[tuple[int, float]]) -> float:
    """The worst factor by which per-resource cost grows per 10x N, between consecutive sizes."""
    return max((b[1] / a[1]) ** (1 / math.log10(b[0] / a[0])) for a, b in zip(per, per[1:]))


def print_scaling(results: dict, shapes: list[str], sizes: list[int]) -> None:
    if len(sizes) < 2:
        return
    print("\nGrowth with N (Strake): wall and CPU microseconds per resource, peak RSS KiB per resource; growth = worst "
          "factor per 10x N of the per-resource cost ('linear' if <= 1.5; judged on CPU time, which other load disturbs less)")
    header = (["scenario", "operation"] + [f"wall us@{n:,}" for n in sizes] + [f"cpu us@{n:,}" for n in sizes]
              + [f"KiB@{n:,}" for n in sizes] + ["growth (cpu)", "growth (wall)"])
    rows = []
    for shape in shapes:
        for op in OPS:
            cells = [results.get(("strake", shape, n, op)) for n in sizes]
            if sum(c is not None for c in cells) < 2:
                continue
            wall = growth([(n, c.t / n) for n, c in zip(sizes, cells) if c is not None])
            cpu = growth([(n, c.c / n) for n, c in zip(sizes, cells) if c is not None])
            row = [shape, op]
            row += ["-" if c is None else f"{c.t / n * 1e6:.0f}" for n, c in zip(sizes, cells)]
            row += ["-" if c is None else f"{c.c / n * 1e6:.0f}" for n, c in zip(sizes, cells)]
            row += ["-" if c is None else f"{c.m * 1024 / n:.1f}" for n, c in zip(sizes, cells)]
            row.append(f"{'linear' if cpu <= 1.5 else 'SUPERLINEAR'} x{cpu:.2f}")
            row.append(f"x{wall:.2f}")
            rows.append(row)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = "  ".join(h.ljust(w) if i < 2 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths)))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))


def print_big(results: dict, shapes: list[str], sizes: list[int]) -> None:
    big = [n for n in sizes if n >= BIG_N]
    if not big:
        return
    print(f"\nAt N >= {BIG_N:,} (Strake): peak RSS per resource (target <= {BIG_KIB_PER_RESOURCE:g} KiB) and the "
          f"no-op plan's wall time (target <= {BIG_PLAN_SECONDS:g} s, on an idle machine)")
    for shape in shapes:
        for n in big:
            for op in BIG_OPS:
                s = results.get(("strake", shape, n, op))
                if s is None:
                    continue
                kib = s.m * 1024 / n
                line = f"  {shape:<12} {n:>9,}  {op:<14} {kib:5.2f} KiB/resource <={BIG_KIB_PER_RESOURCE:g} {'ok' if kib <= BIG_KIB_PER_RESOURCE else 'MISS'}"
                if op == "plan (no-op)":
                    line += f"   {s.t:6.2f} s <={BIG_PLAN_SECONDS:g} {'ok' if s.t <= BIG_PLAN_SECONDS else 'MISS'}"
                print(line)


# --------------------------------------------------------------------------------------------
# Latency check: a fake provider that sleeps per call; how close is apply to the critical path?

LATENCY_CASES = (("independent", 100, 10), ("layered", 200, 20), ("chain", 20, 1))


def latency_check(workdir: Path, runs: int, latency_ms: int, keep: bool) -> list[tuple]:
    rows = []
    for shape, n, width in LATENCY_CASES:
        depth = depth_of(shape, n, width)
        waves = max(depth, math.ceil(n / PARALLELISM))
        # apply from empty: one create per resource. destroy refreshes first (one read per
        # resource, in dependency order like Terraform), then deletes: twice the waves.
        bounds = {"apply": waves * latency_ms / 1000.0, "destroy": 2 * waves * latency_ms / 1000.0}
        per_op: dict[str, list[float]] = {"apply": [], "destroy": []}
        for _ in range(runs):
            d = Path(tempfile.mkdtemp(prefix=f"latency-{shape}-", dir=workdir))
            (d / "Strake.toml").write_text(
                f'n = "{n}"\nshape = "{shape}"\nwidth = "{width}"\npayload = "{PAYLOAD}"\nkind = "slow"\nlatency_ms = "{latency_ms}"\n'
            )
            try:
                for op in per_op:
                    lp = d / f"{op}.log"
                    argv = [str(BINARY), "--dir", str(d), "--parallelism", str(PARALLELISM), op, "--yes"]
                    per_op[op].append(expect(measure(argv, d, None, lp), (0,), f"latency {op}", lp).seconds)
            finally:
                if not keep:
                    shutil.rmtree(d, ignore_errors=True)
        for op, secs in per_op.items():
            t = statistics.median(secs)
            rows.append((shape, n, depth, "destroy (read+delete)" if op == "destroy" else op, bounds[op], t, t / bounds[op]))
        log(f"  [latency {shape} N={n}] apply {statistics.median(per_op['apply']):.3f}s destroy {statistics.median(per_op['destroy']):.3f}s")
    return rows


def print_latency(rows: list[tuple], latency_ms: int, runs: int) -> None:
    print(f"\nLatency check: kind=slow (every provider call sleeps {latency_ms} ms), parallelism {PARALLELISM}, "
          f"median of {runs}; bound = max(depth, ceil(N/parallelism)) x latency per call "
          f"(x2 for destroy: refresh reads, then deletes); raw process wall time, nothing subtracted")
    header = ["shape", "N", "depth", "operation", "bound s", "measured s", "measured/bound", "target"]
    body = [
        [s, str(n), str(dp), op, f"{b:.3f}", f"{t:.3f}", f"{r:.3f}", f"<={LATENCY_TARGET} {'ok' if r <= LATENCY_TARGET else 'MISS'}"]
        for s, n, dp, op, b, t, r in rows
    ]
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("-" * (sum(widths) + 2 * (len(widths) - 1)))
    for r in body:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))


# --------------------------------------------------------------------------------------------


def main() -> int:
    global PARALLELISM
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="only N=100 and 1,000, 1 run each (Terraform too, unless --no-terraform)")
    ap.add_argument("--runs", type=int, default=3, help="runs per measurement where Strake runs alone; the median is reported (default 3)")
    ap.add_argument("--pair-runs", type=int, default=1,
                    help="runs per measurement where both tools run, interleaved, each the same number (default 1: Terraform is slow)")
    ap.add_argument("--no-terraform", action="store_true", help="do not measure Terraform even if it is on PATH")
    ap.add_argument("--tf-sizes", default="100,1000", help="comma-separated N at which Terraform is measured too (default 100,1000)")
    ap.add_argument("--sizes", default=None, help="comma-separated N (default 100,1000,10000,100000; with --quick 100,1000)")
    ap.add_argument("--shapes", default=",".join(SHAPES), help="comma-separated shapes (default all)")
    ap.add_argument("--skip-chain-100k", action="store_true",
                    help="skip chain at N>=100,000 (100,000 strictly sequential steps: over a minute per apply)")
    ap.add_argument("--no-latency", action="store_true", help="skip the latency check")
    ap.add_argument("--latency-ms", type=int, default=50)
    ap.add_argument("--parallelism", type=int, default=PARALLELISM)
    ap.add_argument("--workdir", type=Path, default=None, help="where the temporary program dirs go (default: system temp)")
    ap.add_argument("--keep", action="store_true", help="keep the program dirs (logs, state) for inspection")
    ap.add_argument("--no-build", action="store_true", help="use the existing target/release/strake-bench")
    ap.add_argument("--json", type=Path, default=None, help="also write every raw measurement to this file")
    args = ap.parse_args()
    PARALLELISM = args.parallelism

    sizes = [int(s) for s in (args.sizes or ("100,1000" if args.quick else "100,1000,10000,100000")).split(",") if s]
    runs = args.runs
    pair_runs = args.pair_runs
    if args.quick:
        runs, pair_runs = 1, 1
    shapes = [s for s in args.shapes.split(",") if s]
    for s in shapes:
        if s not in SHAPES:
            ap.error(f"unknown shape {s}")
    terraform = None if args.no_terraform else shutil.which("terraform")
    tf_sizes = [int(s) for s in args.tf_sizes.split(",") if s]

    if not args.no_build:
        log("building: cargo build --release -p strake-bench")
        subprocess.run(["cargo", "build", "--release", "-p", "strake-bench"], cwd=REPO, check=True)
    if not BINARY.exists():
        log(f"{BINARY} is missing; build it with `cargo build --release -p strake-bench`")
        return 1

    workdir = Path(tempfile.mkdtemp(prefix="strake-bench-", dir=args.workdir))
    log(f"work directory: {workdir}")
    tf_version = ""
    if terraform:
        tf_version = subprocess.run([terraform, "version"], capture_output=True, text=True,
                                    env=dict(os.environ, CHECKPOINT_DISABLE="1")).stdout.splitlines()[0]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    floor = rss_floor(workdir)
    load_before = os.getloadavg()
    results: dict = {}
    skipped: list[str] = []
    failures: list[str] = []
    started = time.perf_counter()
    try:
        strake = StrakeRunner(workdir, args.keep)
        tf = TerraformRunner(workdir, args.keep, terraform) if terraform else None
        for shape in shapes:
            for n in sizes:
                big = n >= BIG_N
                if big and shape == "chain" and args.skip_chain_100k:
                    skipped.append(f"chain at N={n:,}: skipped (--skip-chain-100k)")
                    continue
                runners: list[Runner] = [strake] + ([tf] if tf and n in tf_sizes else [])
                log(" and ".join(r.tool for r in runners) + f", interleaved: {shape} N={n:,}" if len(runners) > 1 else f"strake {shape} N={n:,}")
                run_interleaved(runners, shape, n, pair_runs if len(runners) > 1 else runs, results, BIG_OPS if big else OPS, failures)
        latency_rows = [] if args.no_latency else latency_check(workdir, runs, args.latency_ms, args.keep)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    print(f"\nMachine: {platform.platform()}, {os.cpu_count()} CPUs; strake commit {commit}; "
          f"{tf_version or 'Terraform not measured'}; total benchmark time {time.perf_counter() - started:.0f}s")
    load_after = os.getloadavg()
    print(f"Load average (1, 5, 15 min) at start {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"at end {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    if max(load_before[1], load_after[1]) > 0.5 * (os.cpu_count() or 1):
        print("WARNING: other work was running on this machine; wall times are inflated (CPU times less so)")
    print(f"Peak RSS: Strake's is its own VmHWM; Terraform's is wait4 ru_maxrss, which cannot go below "
          f"{floor:.1f} MiB here (this Python's high-water mark, folded in at exec)")
    print_table(results, shapes, sizes, runs, pair_runs)
    for s in skipped:
        print(f"  note: {s}")
    for f in failures:
        print(f"  FAILED: {f}")
    print_scaling(results, shapes, sizes)
    print_big(results, shapes, sizes)
    if latency_rows:
        print_latency(latency_rows, args.latency_ms, runs)
    if args.json:
        args.json.write_text(json.dumps(
            [{"tool": k[0], "shape": k[1], "n": k[2], "operation": k[3], "seconds": v.seconds, "cpu_seconds": v.cpu, "rss_mib": v.rss}
             for k, v in results.items()]
            + [{"tool": "strake", "latency_check": True, "shape": r[0], "n": r[1], "depth": r[2], "operation": r[3],
                "bound_s": r[4], "seconds": r[5], "ratio": r[6]} for r in (latency_rows or [])],
            indent=1))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
