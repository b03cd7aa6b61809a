#!/usr/bin/env python3
"""The cross-account IRSA example's apply and destroy against moto and a real kube-apiserver:
how much of each command's wall time has a request in flight (python3 standard library, plus
boto3 from moto's install to create the EKS cluster the example reads).

Every byte the program sends to moto and to the kube-apiserver passes through a TCP relay started
by this script, which notes when each exchange starts (the program sends after the connection was
idle or answered) and ends (the last answer before the program sends again). An exchange is a
request and its answer, or a round trip of a TLS handshake. From these it prints, per command:

  - the wall time of the whole process (start to exit), median of --runs;
  - exchanges made, and the union of the intervals during which at least one was in flight (the
    network time; the calls of the critical path, the longest chain of calls that wait for one
    another, are in flight one after the other within it, so it bounds that path from above);
  - the time before the first exchange (process start, configuration, state), and after the last;
  - wall / network time, against the target of 3 for apply. Destroy has none: most of its time
    is the wait for the controller manager to delete the namespace, with nothing in flight.

    python3 tests/bench/irsa.py              # 5 applies and destroys, one after the other
    python3 tests/bench/irsa.py --runs 10 --no-build

Uses the release build of the example (`cargo build --release -p cross-account-irsa`) and the
kube-apiserver that tests/kube/build.sh builds (once per machine, ~15 minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target") / "release" / "cross-account-irsa"
TARGET_RATIO = 3.0


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class Relay:
    """A TCP relay from a loopback port to `upstream`, noting when each exchange starts and ends."""

    def __init__(self, name: str, upstream: tuple[str, int]):
        self.name = name
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.exchanges: list[tuple[float, float]] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self) -> list[tuple[float, float]]:
        with self.lock:
            got, self.exchanges = self.exchanges, []
        return got

    def _accept(self) -> None:
        while True:
            client, _ = self.listener.accept()
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        server = socket.create_connection(self.upstream)
        for s in (client, server):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        start = None  # when the exchange under way started
        last_answer = None  # the last answer's time within it
        try:
            while True:
                ready, _, _ = select.select([client, server], [], [])
                for s in ready:
                    data = s.recv(65536)
                    now = time.perf_counter()
                    if not data:
                        return
                    if s is client:
                        if last_answer is not None:  # the answer is over: the program sends again
                            self._note(start, last_answer)
                            start, last_answer = None, None
                        if start is None:
                            start = now
                        server.sendall(data)
                    else:
                        last_answer = now
                        client.sendall(data)
        except OSError:
            pass
        finally:
            if start is not None and last_answer is not None:
                self._note(start, last_answer)
            client.close()
            server.close()

    def _note(self, start: float, end: float) -> None:
        with self.lock:
            self.exchanges.append((start, end))


def med(seconds) -> float:
    """The median, in milliseconds."""
    return statistics.median(seconds) * 1000


def union(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def print_timeline(calls: dict[str, list[tuple[float, float]]], started: float, ended: float) -> None:
    """Each exchange in ms from the process's start, and each gap of over 2 ms with none in flight."""
    print("\nTimeline of the last apply (ms from the process's start; gaps over 2 ms with nothing in flight)")
    events = sorted((a, b, name) for name, got in calls.items() for a, b in got)
    busy_until = started
    for a, b, name in events:
        if a - busy_until > 0.002:
            print(f"  {(busy_until - started) * 1000:7.1f} .. {(a - started) * 1000:7.1f}  gap {(a - busy_until) * 1000:5.1f}")
        print(f"  {(a - started) * 1000:7.1f} .. {(b - started) * 1000:7.1f}  {name}")
        busy_until = max(busy_until, b)
    print(f"  {(busy_until - started) * 1000:7.1f} .. {(ended - started) * 1000:7.1f}  gap {(ended - busy_until) * 1000:5.1f} (to exit)")


def wait_for(pattern: str, path: Path, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = re.search(pattern, path.read_text(errors="replace")) if path.exists() else None
        if m:
            return m.group(1)
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {pattern!r} in {path}:\n{path.read_text(errors='replace')[-2000:]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="applies and destroys measured (default 5); the median is reported")
    ap.add_argument("--no-build", action="store_true", help="use the existing release build of the example")
    ap.add_argument("--json", type=Path, default=None, help="also write every raw measurement to this file")
    ap.add_argument("--print-plan", action="store_true", help="print the first plan (from empty state) before measuring")
    ap.add_argument("--binary", type=Path, default=BINARY, help=f"the example's program (default {BINARY})")
    ap.add_argument("--timeline", action="store_true", help="print the last apply's exchanges and the gaps between them")
    args = ap.parse_args()

    if not args.no_build:
        log("building: cargo build --release -p cross-account-irsa")
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "cross-account-irsa"], cwd=REPO, check=True)
    subprocess.run(["bash", str(REPO / "tests/kube/build.sh")], check=True, stdout=subprocess.DEVNULL)

    work = Path(tempfile.mkdtemp(prefix="strake-irsa-bench-"))
    moto = kube_state = None
    try:
        moto_log = work / "moto.log"
        moto = subprocess.Popen([sys.executable, str(REPO / "tests/moto/server.py"), "-H", "127.0.0.1", "-p", "0"],
                                stdout=moto_log.open("wb"), stderr=subprocess.STDOUT)
        moto_port = int(wait_for(r"Running on http://127\.0\.0\.1:(\d+)", moto_log))
        aws = Relay("moto", ("127.0.0.1", moto_port))
        env = dict(os.environ, AWS_ENDPOINT_URL=f"http://127.0.0.1:{aws.port}", AWS_ACCESS_KEY_ID="testing",
                   AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1")
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            env.pop(k, None)

        import boto3  # installed with moto[server]
        eks = boto3.client("eks", endpoint_url=f"http://127.0.0.1:{moto_port}", region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        issuer = eks.create_cluster(name="demo", roleArn="arn:aws:iam::123456789012:role/eks-cluster",
                                    resourcesVpcConfig={"subnetIds": ["subnet-1"]})["cluster"]["identity"]["oidc"]["issuer"]

        kube_state = work / "kube"
        out = subprocess.run(["bash", str(REPO / "tests/kube/start.sh"), str(kube_state), issuer],
                             check=True, capture_output=True, text=True).stdout
        kubeconfig = Path(re.search(r"^KUBECONFIG=(.*)$", out, re.M).group(1))
        server = re.search(r"server: https://127\.0\.0\.1:(\d+)", kubeconfig.read_text())
        kube = Relay("kube-apiserver", ("127.0.0.1", int(server.group(1))))
        relayed = work / "kubeconfig"
        relayed.write_text(kubeconfig.read_text().replace(f"127.0.0.1:{server.group(1)}", f"127.0.0.1:{kube.port}"))
        env["KUBECONFIG"] = str(relayed)

        app = work / "app"
        app.mkdir()
        shutil.copy(REPO / "examples/cross-account-irsa/Strake.toml", app / "Strake.toml")
        env["STRAKE_DIR"] = str(app)

        if args.print_plan:
            plan = subprocess.run([str(args.binary), "plan"], env=env, capture_output=True, text=True)
            print(plan.stdout)
        rows: dict[str, list[dict]] = {"apply": [], "destroy": []}
        load_before = os.getloadavg()
        for r in range(args.runs):
            for command in ("apply", "destroy"):
                aws.reset()  # what came between two commands (the relays keep the connections open)
                kube.reset()
                started = time.perf_counter()
                done = subprocess.run([str(args.binary), command, "--yes"], env=env, capture_output=True, text=True)
                ended = time.perf_counter()
                if done.returncode != 0:
                    raise SystemExit(f"{command} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
                calls = {"aws": aws.reset(), "kube": kube.reset()}
                if args.timeline and command == "apply" and r == args.runs - 1:
                    print_timeline(calls, started, ended)
                every = calls["aws"] + calls["kube"]
                row = {
                    "wall": ended - started,
                    "exchanges": {k: len(v) for k, v in calls.items()},
                    "network": union(every),
                    "aws_network": union(calls["aws"]),
                    "kube_network": union(calls["kube"]),
                    "before_first": (min(a for a, _ in every) - started) if every else None,
                    "after_last": (ended - max(b for _, b in every)) if every else None,
                }
                rows[command].append(row)
                log(f"  [{command} {r + 1}/{args.runs}] wall {row['wall'] * 1000:.0f} ms, network {row['network'] * 1000:.0f} ms, "
                    f"{row['exchanges']['aws']} AWS and {row['exchanges']['kube']} Kubernetes exchanges")
        load_after = os.getloadavg()
    finally:
        if kube_state is not None:
            subprocess.run(["bash", str(REPO / "tests/kube/stop.sh"), str(kube_state)], capture_output=True)
        if moto is not None:
            moto.kill()
        shutil.rmtree(work, ignore_errors=True)

    print(f"\nCross-account IRSA example against moto and a real kube-apiserver ({args.binary}), median of {args.runs} runs")
    print(f"Load average (1, 5, 15 min) at start {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"at end {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    header = ["command", "wall ms", "exchanges (AWS+k8s)", "network ms", "AWS ms", "k8s ms", "before first ms",
              "after last ms", "wall/network", "target"]
    body = []
    for command, got in rows.items():
        ratio = statistics.median(g["wall"] / g["network"] for g in got)
        body.append([
            command, f"{med([g['wall'] for g in got]):.0f}",
            f"{statistics.median(g['exchanges']['aws'] for g in got):.0f}+{statistics.median(g['exchanges']['kube'] for g in got):.0f}",
            f"{med([g['network'] for g in got]):.1f}", f"{med([g['aws_network'] for g in got]):.1f}",
            f"{med([g['kube_network'] for g in got]):.1f}", f"{med([g['before_first'] for g in got]):.1f}",
            f"{med([g['after_last'] for g in got]):.1f}", f"{ratio:.1f}x",
            f"<={TARGET_RATIO:.0f}x {'ok' if ratio <= TARGET_RATIO else 'MISS'}" if command == "apply" else "-",
        ])
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(header)]
    print("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    print("-" * (sum(widths) + 2 * (len(widths) - 1)))
    for row in body:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))
    print("network = the union of the intervals with a request (or a TLS round trip) in flight, through the relay")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
