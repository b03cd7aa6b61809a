#!/usr/bin/env python3
"""The S3 state backend, measured against moto with the bench stack (`examples/bench`).

    python3 tests/bench/state_s3.py              # N=1,000, 5 interleaved no-op plans per store
    python3 tests/bench/state_s3.py --n 100 --runs 9 --no-build

Prints, from moto's own request recorder:
  - the S3 requests and bytes uploaded by an apply from empty, and by a series of applies that
    change 1% of the resources and change them back (bytes should follow the changed resources,
    not the stack), with their mean per changed resource;
  - the requests of a no-op plan;
and the wall time of a no-op plan on S3 against the local store, the two run in turn (local, S3,
local, S3, ...) so a change of load tilts neither; the median of each and their ratio.
"""

import argparse
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench  # noqa: E402  (the same stack, program and binary as the Terraform benchmark)

BUCKET = "bench-state"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(addr: str, method: str, path: str) -> bytes:
    with urllib.request.urlopen(urllib.request.Request(f"http://{addr}{path}", method=method)) as r:
        return r.read()


def start_moto() -> tuple[subprocess.Popen, str]:
    addr = f"127.0.0.1:{free_port()}"
    host, port = addr.split(":")
    proc = subprocess.Popen(
        [sys.executable, str(HERE.parent / "moto" / "server.py"), "-H", host, "-p", port],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, MOTO_RECORDER_FILEPATH=tempfile.mktemp(prefix="moto-recording-")),
    )
    for _ in range(300):
        try:
            call(addr, "POST", "/moto-api/reset")
            break
        except OSError:
            time.sleep(0.1)
    else:
        sys.exit("moto did not start")
    call(addr, "PUT", f"/{BUCKET}")
    return proc, addr


def recorded(addr: str) -> list[dict]:
    call(addr, "POST", "/moto-api/recorder/stop-recording")
    lines = call(addr, "GET", "/moto-api/recorder/download-recording").decode().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def record(addr: str) -> None:
    call(addr, "POST", "/moto-api/recorder/reset-recording")
    call(addr, "POST", "/moto-api/recorder/start-recording")


def uploaded(requests: list[dict]) -> int:
    total = 0
    for r in requests:
        if r.get("method") == "PUT":
            body = r.get("body") or ""
            total += len(base64.b64decode(body)) if r.get("body_encoded") else len(body.encode())
    return total


def run(argv: list[str], env: dict) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 2):
        sys.exit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--series", type=int, default=10, help="applies of the changed resources in a row")
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "-p", "strake-bench"], cwd=bench.REPO, check=True)
    moto, addr = start_moto()
    env = dict(
        os.environ,
        AWS_ENDPOINT_URL=f"http://{addr}",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_REGION="us-east-1",
        NO_COLOR="1",
    )
    env.pop("AWS_PROFILE", None)
    try:
        d = Path(tempfile.mkdtemp(prefix="strake-state-s3-"))
        (d / "Strake.toml").write_text(bench.strake_toml("independent", args.n, 1))
        base = [str(bench.BINARY), "--dir", str(d), "--parallelism", str(bench.PARALLELISM)]
        s3 = ["--backend", f"s3://{BUCKET}/n{args.n}"]

        def measured(label: str, extra: list[str]) -> tuple[str, int, int, int]:
            record(addr)
            run(base + s3 + extra, env)
            reqs = [r for r in recorded(addr) if f"/{BUCKET}" in r.get("url", "")]
            return (label, len(reqs), sum(1 for r in reqs if r.get("method") == "PUT"), uploaded(reqs))

        pct = f"{bench.CHANGE_PCT:g}"
        rows = [measured("apply from empty", ["apply", "--yes"])]
        # The same resources changed and changed back, run after run: what each apply uploads
        # once the stack's snapshot exists (deltas merge, and the snapshot is rewritten now and
        # then, so the mean over the series is the cost per apply).
        series = [measured(f"apply {i + 1}, {pct}% changed", ["--config", f"change_pct={pct if i % 2 == 0 else 0}", "apply", "--yes"]) for i in range(args.series)]
        rows += series
        rows.append(measured("no-op plan", ["--config", f"change_pct={pct if args.series % 2 == 1 else 0}", "plan"]))

        # The local store's twin of the stack, then no-op plans in turn.
        local = Path(tempfile.mkdtemp(prefix="strake-state-local-"))
        (local / "Strake.toml").write_text(bench.strake_toml("independent", args.n, 1))
        local_base = [str(bench.BINARY), "--dir", str(local), "--parallelism", str(bench.PARALLELISM)]
        run(local_base + ["--config", f"change_pct={bench.CHANGE_PCT:g}", "apply", "--yes"], env)
        times: dict[str, list[float]] = {"local": [], "s3": []}
        for _ in range(args.runs):
            times["local"].append(run(local_base + ["--config", f"change_pct={bench.CHANGE_PCT:g}", "plan"], env))
            times["s3"].append(run(base + s3 + ["--config", f"change_pct={bench.CHANGE_PCT:g}", "plan"], env))
    finally:
        moto.terminate()
        moto.wait()

    print(f"S3 state backend against moto, bench stack `independent`, N={args.n:,}, parallelism {bench.PARALLELISM}")
    print(f"{'run':<24} {'S3 requests':>12} {'PUTs':>6} {'bytes uploaded':>15} {'bytes/resource':>15}")
    for label, n_req, puts, up in rows:
        print(f"{label:<24} {n_req:>12} {puts:>6} {up:>15,} {up / args.n:>15.1f}")
    k = len(bench.changed_set(args.n, bench.CHANGE_PCT))
    mean = statistics.mean(up for _, _, _, up in series)
    print(f"mean over the {args.series} applies: {mean:,.0f} bytes uploaded, {mean / k:,.0f} per changed resource ({k} changed), "
          f"{mean / rows[0][3]:.3f} of the apply from empty")
    lo, s3m = statistics.median(times["local"]), statistics.median(times["s3"])
    print(f"no-op plan, median of {args.runs} interleaved runs: local {lo:.3f} s, S3 {s3m:.3f} s, S3/local {s3m / lo:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
