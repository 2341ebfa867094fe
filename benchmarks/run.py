"""The one command: every benchmark, a table, JSON and a plot.

    uv run --no-sync python -m benchmarks            # full run, ~12 minutes on 2 cores
    uv run --no-sync python -m benchmarks --quick    # ~1 minute: smaller K, shorter windows,
                                                     # no settings or device stage

One fake server process serves every stage; each client kind and size runs in
a worker process of its own (``benchmarks.worker``). On a machine with two or
more cores the server is pinned to CPU 0 and the workers to CPU 1, so neither
ever runs on the other's core. Stages:

1. compare  - bare client, rtws (24 kHz and 48 kHz devices), openai-agents at the same K
               (three times each, interleaved, keeping the run with the least CPU)
2. cost     - rtws with 48 kHz file media at K = 10, 50, 100: CPU and RSS per session
3. scale    - K up a ladder until a session stops keeping real time, per client
4. settings - permessage-deflate on, and 40 ms chunks, against the rtws defaults
5. barge-in - interruption to silence and truncation accuracy (rtws, file media)
6. device   - interruption to silence on the virtual speaker's monitor (skipped
              when no virtual devices exist)
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import report
from .sysinfo import busy_seconds, machine

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"

#: The scale stage's clients: a label, and the worker's client kind and arguments.
#: rtws runs both ways: at the provider's rate (the same work as the other two)
#: and with 48 kHz devices (both resamplers, as with a typical sound card).
SCALE_CLIENTS: dict[str, tuple[str, ...]] = {
    "bare": ("bare",),
    "rtws 24 kHz": ("rtws", "--device-rate", "24000"),
    "rtws 48 kHz": ("rtws", "--device-rate", "48000"),
    "agents": ("agents",),
    # The same with the startup heap frozen (gc.freeze() once the sessions are up),
    # as a long-running fleet process would: at this scale a full GC pass over the
    # import-time objects (~50 ms) is what decides the p99, not the work.
    "bare, gc frozen": ("bare", "--gc", "frozen"),
    "rtws 24 kHz, gc frozen": ("rtws", "--device-rate", "24000", "--gc", "frozen"),
}

#: What "every session stays real time" means in the scale stage.
MAX_SEND_LATENESS_MS = 20.0
MAX_RECEIVE_LAG_MS = 50.0


@dataclass
class Plan:
    compare_k: int
    cost_ks: list[int]
    scale: dict[str, list[int]]  # client -> K levels tried in order, until one fails
    warmup: float
    window: float
    barge_in_window: float
    settings_k: int
    #: runs per client in the compare stage; the one with the least CPU is kept (min of N
    #: is the usual way to read CPU time on a machine that is not otherwise idle)
    repeats: int = 1
    #: stages run when ``--stages`` is not given
    stages: tuple[str, ...] = ("compare", "cost", "scale", "settings", "barge-in", "device")


FULL = Plan(
    compare_k=50,
    cost_ks=[10, 50, 100],
    scale={
        "bare": [50, 75, 100, 125, 150, 200],
        "rtws 24 kHz": [50, 75, 100, 125, 150, 200],
        "rtws 48 kHz": [50, 75, 100, 125, 150],
        "agents": [25, 50, 75, 100, 150],
        "bare, gc frozen": [150, 200],
        "rtws 24 kHz, gc frozen": [150, 200],
    },
    warmup=3.0,
    window=10.0,
    barge_in_window=20.0,
    settings_k=50,
    repeats=3,
)
QUICK = Plan(
    compare_k=20,
    cost_ks=[10, 20],
    scale={"bare": [100], "rtws 24 kHz": [50, 100], "agents": [50]},
    warmup=2.0,
    window=3.0,
    barge_in_window=8.0,
    settings_k=20,
    stages=("compare", "cost", "scale", "barge-in"),
)


class Server:
    """The fake OpenAI Realtime server in its own process."""

    def __init__(self, cpu: int | None) -> None:
        command = [sys.executable, "-m", "benchmarks.server", "--port", "0"]
        if cpu is not None:
            command += ["--cpu", str(cpu)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT.parent)
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.startswith("READY "):
            self.stop()
            raise SystemExit(f"the fake server did not start: {line!r}")
        self.url = line.split(" ", 1)[1]

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


class Runner:
    def __init__(self, server: Server, plan: Plan, cpu: int | None) -> None:
        self.server = server
        self.plan = plan
        self.cpu = cpu

    def worker(self, client: str, sessions: int, *extra: str, **kw: float) -> dict[str, Any]:
        """One worker process; its JSON result (or an ``error`` entry when it failed)."""
        command = [
            sys.executable,
            "-m",
            "benchmarks.worker",
            "--client",
            client,
            "--url",
            self.server.url,
            "--sessions",
            str(sessions),
            "--warmup",
            str(kw.get("warmup", self.plan.warmup)),
            "--window",
            str(kw.get("window", self.plan.window)),
            "--server-pid",
            str(self.server.pid),
            *extra,
        ]
        if self.cpu is not None:
            command += ["--cpu", str(self.cpu)]
        label = " ".join([client, f"K={sessions}", *extra])
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT.parent, timeout=600)
        took = time.perf_counter() - started
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            tail = done.stderr.strip().splitlines()[-3:]
            print(f"  {label:<40} FAILED ({done.returncode}): {' | '.join(tail)}", flush=True)
            return {"client": client, "sessions": sessions, "error": " | ".join(tail)}
        result: dict[str, Any] = json.loads(lines[-1])
        result["label"] = label
        print(f"  {label:<40} {report.one_line(result)}  [{took:.0f} s]", flush=True)
        return result


def keeps_real_time(result: dict[str, Any]) -> bool:
    if "error" in result:
        return False
    send = result["send_lateness_ms"]["p99"]
    lag = result["receive_lag_ms"]["p99"]
    return (
        send is not None
        and lag is not None
        and send <= MAX_SEND_LATENESS_MS
        and lag <= MAX_RECEIVE_LAG_MS
        and result["chunks_dropped"] == 0
        and result["chunks_sent"] >= 0.99 * result["chunks_expected"]
    )


def have_agents() -> bool:
    try:
        import agents.realtime  # noqa: F401  # pyright: ignore[reportUnusedImport, reportMissingImports]
    except ImportError:
        return False
    return True


def background_cpu_pct(seconds: float = 2.0) -> float | None:
    """How busy the machine is before we start (% of one core), or None off Linux."""
    start = busy_seconds()
    time.sleep(seconds)
    end = busy_seconds()
    if start is None or end is None:
        return None
    return (end - start) / seconds * 100.0


def run(args: argparse.Namespace) -> dict[str, Any]:
    plan = QUICK if args.quick else FULL
    cores = os.cpu_count() or 1
    background = background_cpu_pct()
    pin = not args.no_pin and cores >= 2 and hasattr(os, "sched_setaffinity")
    if background is not None and background > report.BUSY_MACHINE_PCT:
        print(
            f"warning: other processes use {background:.0f} % of a core: latency and scale "
            "figures will show their load, not rtws's"
        )
        if pin:
            # Pinned to a core other work also runs on, a worker would get a fraction of it.
            pin = False
            print("         (not pinning server and clients to CPUs on a busy machine)")
    clients = ["bare", "rtws", "agents"]
    if args.no_agents or not have_agents():
        clients.remove("agents")
        print("openai-agents is not installed: skipping it (uv pip install openai-agents)")
    results: dict[str, Any] = {
        "machine": machine(),
        "mode": "quick" if args.quick else "full",
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "pinned": pin,
        "background_cpu_pct": None if background is None else round(background, 1),
        "thresholds": {
            "send_lateness_p99_ms": MAX_SEND_LATENESS_MS,
            "receive_lag_p99_ms": MAX_RECEIVE_LAG_MS,
        },
    }
    server = Server(0 if pin else None)
    try:
        runner = Runner(server, plan, 1 if pin else None)
        stages = set(args.stages.split(",")) if args.stages else set(plan.stages)

        def wanted(stage: str) -> bool:
            return stage in stages

        if wanted("compare"):
            print(f"compare: K={plan.compare_k}, same server, same workload")
            kinds: list[tuple[str, ...]] = [
                ("bare-floor",),  # the bare client without the wire probe: the true floor
                ("bare",),
                ("rtws", "--device-rate", "24000"),
                ("rtws", "--device-rate", "48000"),
                *([("agents",)] if "agents" in clients else []),
            ]
            runs: dict[tuple[str, ...], list[dict[str, Any]]] = {kind: [] for kind in kinds}
            for _ in range(plan.repeats):  # interleaved, so a burst of other work hits all
                for kind in kinds:
                    runs[kind].append(runner.worker(kind[0], plan.compare_k, *kind[1:]))
            results["compare"] = [_least_cpu(runs[kind]) for kind in kinds]
        if wanted("cost"):
            print("cost: rtws, 48 kHz file media, real time")
            known = {
                r["sessions"]: r
                for r in results.get("compare", [])
                if r.get("client") == "rtws" and r.get("device_rate") == 48000
            }
            results["cost"] = [
                known.get(k) or runner.worker("rtws", k, "--device-rate", "48000")
                for k in plan.cost_ks
            ]
        if wanted("scale"):
            print(
                f"scale: K up while p99 send lateness <= {MAX_SEND_LATENESS_MS:g} ms, "
                f"p99 receive lag <= {MAX_RECEIVE_LAG_MS:g} ms, nothing dropped"
            )
            scale: dict[str, Any] = {}
            for client, ks in plan.scale.items():
                kind, *extra = SCALE_CLIENTS[client]
                if kind not in clients:
                    continue
                levels: list[dict[str, Any]] = []
                for k in ks:
                    result = runner.worker(kind, k, *extra, window=plan.window * 0.8)
                    result["real_time"] = keeps_real_time(result)
                    if not result["real_time"] and "error" not in result:
                        # One retry: on a shared machine a burst of someone else's work
                        # (or one badly placed GC pass) can sink a single window.
                        retry = runner.worker(kind, k, *extra, window=plan.window * 0.8)
                        retry["real_time"] = keeps_real_time(retry)
                        retry["first_try"] = _summary(result)
                        result = retry
                    levels.append(result)
                    if not result["real_time"]:
                        break
                ok = [r["sessions"] for r in levels if r["real_time"]]
                scale[client] = {
                    "levels": levels,
                    "max_real_time_k": max(ok) if ok else None,
                    "tried_up_to": ks[-1],
                }
            results["scale"] = scale
        if wanted("settings"):
            k = plan.settings_k
            print(f"settings: rtws K={k}, 48 kHz")
            base = next(
                (
                    r
                    for r in results.get("compare", [])
                    if r.get("client") == "rtws"
                    and r.get("device_rate") == 48000
                    and r.get("sessions") == k
                ),
                None,
            ) or runner.worker("rtws", k)
            results["settings"] = [
                base,
                runner.worker("rtws", k, "--deflate"),
                runner.worker("rtws", k, "--chunk-ms", "40"),
            ]
        if wanted("barge-in"):
            print("barge-in: rtws K=10, interruptions anywhere in a reply")
            results["barge_in"] = runner.worker(
                "rtws", 10, "--barge-in", window=plan.barge_in_window
            )
        if wanted("device"):
            print("device: interruption on the virtual speaker (monitor recording)")
            results["device"] = device_stage(server, plan)
    finally:
        server.stop()
    results["finished"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    return results


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    """What a scale level's first, failed try looked like (kept beside the retry)."""
    return {
        "send_lateness_p99_ms": result["send_lateness_ms"]["p99"],
        "receive_lag_p99_ms": result["receive_lag_ms"]["p99"],
        "chunks_dropped": result["chunks_dropped"],
        "gc_full_pauses_ms": result.get("gc_full_pauses_ms", []),
        "other_cpu_pct": result.get("other_cpu_pct"),
    }


def _least_cpu(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[0]
    best = min(ok, key=lambda r: r["cpu_pct_per_session"])
    best["repeats"] = [r["cpu_pct_per_session"] for r in ok]
    return best


def device_stage(server: Server, plan: Plan) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "benchmarks.device",
        "--url",
        server.url,
        "--seconds",
        str(plan.barge_in_window),
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT.parent, timeout=300)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        print(f"  FAILED: {tail}")
        return {"skipped": f"device benchmark failed: {tail}"}
    result: dict[str, Any] = json.loads(lines[-1])
    print(f"  {report.device_line(result)}")
    return result


@contextlib.contextmanager
def _timed(label: str) -> Generator[None]:
    started = time.perf_counter()
    yield
    print(f"{label} in {time.perf_counter() - started:.0f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="smaller K and windows (~1 min)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where JSON, table and PNG go")
    parser.add_argument("--no-agents", action="store_true", help="skip openai-agents")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server/client to CPUs")
    parser.add_argument(
        "--docs", action="store_true", help="also copy the plot to docs/assets/performance.png"
    )
    parser.add_argument(
        "--stages", default=None, help="comma list: compare,cost,scale,settings,barge-in,device"
    )
    args = parser.parse_args(argv)
    with _timed("benchmarks done"):
        results = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    table = report.markdown(results)
    (args.out / "results.md").write_text(table)
    print()
    print(table)
    plot = report.plot(results, args.out / "performance.png")
    written = [args.out / "results.json", args.out / "results.md", *([plot] if plot else [])]
    if args.docs and plot is not None:
        target = ROOT.parent / "docs" / "assets" / "performance.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(plot, target)
        written.append(target)
    print("wrote " + ", ".join(str(p) for p in written))


if __name__ == "__main__":
    main()
