"""Results → a markdown table (printed, and pasted into ``docs/performance.md``) and a PNG."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

Result = dict[str, Any]

NAMES = {"bare": "bare client", "bare-floor": "bare, no probe", "agents": "openai-agents"}
#: Background CPU (% of one core) above which a run is flagged as taken on a busy machine.
BUSY_MACHINE_PCT = 20.0


def name(result: Result) -> str:
    client = str(result.get("client", "?"))
    label = NAMES.get(client) or client
    if client == "rtws":
        label = f"rtws {result.get('device_rate', 48000) // 1000} kHz"
    if result.get("gc") == "frozen":
        label += ", gc frozen"
    return label


def _f(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _p(dist: dict[str, Any] | None, *keys: str, digits: int = 1) -> str:
    if not dist or not dist.get("n"):
        return "-"
    return " / ".join(_f(dist[k], digits) for k in keys)


def one_line(r: Result) -> str:
    return (
        f"cpu {r['cpu_pct_per_session']:.3f} %/session, "
        f"mic→wire p99 {_f(r['mic_to_wire_ms']['p99'], 1)} ms, "
        f"send late p99 {_f(r['send_lateness_ms']['p99'], 1)} ms, "
        f"rx lag p99 {_f(r['receive_lag_ms']['p99'], 1)} ms, "
        f"dropped {r['chunks_dropped']}, server {_f(r['server_cpu_pct'], 0)} %, "
        f"other {_f(r.get('other_cpu_pct'), 0)} %"
    )


def device_line(r: Result) -> str:
    if "skipped" in r:
        return f"skipped: {r['skipped']}"
    return (
        f"{r['interruptions']} interruptions; signal → silence on the monitor "
        f"p50/p99 {_p(r.get('monitor_silence_ms'), 'p50', 'p99')} ms"
    )


def _ratio(a: Result | None, b: Result | None) -> str:
    if not a or not b or "error" in a or "error" in b:
        return "-"
    return f"{a['cpu_pct_per_session'] / b['cpu_pct_per_session']:.2f}x"


def _median_ratio(a: Result, b: Result) -> str:
    ours: list[float] = a.get("repeats") or []
    theirs: list[float] = b.get("repeats") or []
    if not ours or not theirs:
        return "-"
    return f"{statistics.median(ours) / statistics.median(theirs):.2f}x"


def _compare(results: Result) -> list[str]:
    runs = [r for r in results.get("compare", []) if "error" not in r]
    if not runs:
        return []
    bare = next((r for r in runs if r["client"] == "bare"), None)
    floor = next((r for r in runs if r["client"] == "bare-floor"), None)
    agents = next((r for r in runs if r["client"] == "agents"), None)
    k = runs[0]["sessions"]
    head = "| | " + " | ".join(name(r) for r in runs) + " | goal |"
    rows = [
        f"### Side by side: K = {k} sessions, same fake server, same workload",
        "",
        head,
        "|---" * (len(runs) + 2) + "|",
    ]

    def row(label: str, cells: list[str], goal: str = "") -> None:
        rows.append(f"| {label} | " + " | ".join(cells) + f" | {goal} |")

    row("CPU, % of one core per session", [_f(r["cpu_pct_per_session"], 3) for r in runs])
    row("x bare client", [_ratio(r, bare) for r in runs], "rtws ≤ 1.15x")
    if bare and len(bare.get("repeats", [])) > 1:
        row(
            "  every run (interleaved), % per session",
            [" / ".join(f"{v:.3f}" for v in r.get("repeats", [])) for r in runs],
        )
        row("  x bare client, medians of the runs", [_median_ratio(r, bare) for r in runs])
    if floor:
        # Both rtws and the bare client carry the wire probe; the floor does not. The
        # probe's cost, added to both sides, flatters the ratio above: this one does not.
        row("x bare, no probe (the floor)", [_ratio(r, floor) for r in runs])
    if agents:
        row("x openai-agents", [_ratio(r, agents) for r in runs], "rtws ≤ 0.7x")
    row("RSS, MB per session", [_f(r["rss_mb_per_session"], 2) for r in runs])
    unprobed = {"bare-floor"}  # no wire probe: no frame or byte counts
    row(
        "messages per s up / down",
        [
            "-"
            if r["client"] in unprobed
            else f"{r['msgs_up_per_s']:.0f} / {r['msgs_down_per_s']:.0f}"
            for r in runs
        ],
    )
    row(
        "kB per s up / down",
        [
            "-"
            if r["client"] in unprobed
            else f"{r['kbytes_up_per_s']:.0f} / {r['kbytes_down_per_s']:.0f}"
            for r in runs
        ],
    )
    row(
        "mic → wire, ms p50 / p95 / p99",
        [_p(r["mic_to_wire_ms"], "p50", "p95", "p99", digits=2) for r in runs],
        "p99 ≤ 2",
    )
    row(
        "  same, from the block holding the chunk's last sample",
        [_p(r["mic_content_ms"], "p50", "p95", "p99") for r in runs],
    )
    row(
        "wire → speaker buffer, ms p50 / p95 / p99",
        [_p(r["wire_to_buffer_ms"], "p50", "p95", "p99", digits=2) for r in runs],
        "p99 ≤ 2",
    )
    row(
        "  audio held in the output resampler, ms p50 / p99",
        [_p(r["output_hold_ms"], "p50", "p99") for r in runs],
    )
    row("send lateness p99, ms", [_f(r["send_lateness_ms"]["p99"], 1) for r in runs], "≤ 20")
    row("receive lag p99, ms", [_f(r["receive_lag_ms"]["p99"], 1) for r in runs], "≤ 50")
    row("fake server CPU, % of a core", [_f(r["server_cpu_pct"], 0) for r in runs])
    row("other processes' CPU meanwhile, %", [_f(r.get("other_cpu_pct"), 0) for r in runs])
    return rows


def _cost(results: Result) -> list[str]:
    runs = [r for r in results.get("cost", []) if "error" not in r]
    if not runs:
        return []
    rows = [
        "### Cost per session: rtws, 48 kHz file media (both resamplers run), real time",
        "",
        "| K | CPU % per session | CPU % total | RSS MB per session | fake server CPU % |",
        "|---|---|---|---|---|",
    ]
    for r in runs:
        rows.append(
            f"| {r['sessions']} | {r['cpu_pct_per_session']:.3f} | {r['cpu_pct']:.1f} | "
            f"{r['rss_mb_per_session']:.2f} | {_f(r['server_cpu_pct'], 0)} |"
        )
    return rows


def _scale(results: Result) -> list[str]:
    scale: dict[str, Any] = results.get("scale") or {}
    if not scale:
        return []
    limits = results.get("thresholds", {})
    rows = [
        "### Scale: the largest K at which every session keeps real time",
        "",
        f"Real time: p99 send lateness ≤ {limits.get('send_lateness_p99_ms', 20):g} ms, "
        f"p99 receive lag ≤ {limits.get('receive_lag_p99_ms', 50):g} ms, no chunk dropped. "
        "A level that fails is run once more before the ladder stops.",
        "",
        "| client | K | client CPU % | send lateness p99 ms | receive lag p99 ms | dropped "
        "| full GC passes (longest ms) | fake server CPU % | real time |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for client, entry in scale.items():
        for r in entry["levels"]:
            if "error" in r:
                failed = f"failed: {r['error'][:60]}"
                rows.append(f"| {NAMES.get(client, client)} | {r['sessions']} | {failed} |||||||")
                continue
            rows.append(
                f"| {name(r)} | {r['sessions']} | {r['cpu_pct']:.0f} | "
                f"{_f(r['send_lateness_ms']['p99'], 1)} | {_f(r['receive_lag_ms']['p99'], 1)} | "
                f"{r['chunks_dropped']} | {_gc(r)} | {_f(r['server_cpu_pct'], 0)} | "
                f"{_verdict(r)} |"
            )
    rows.append("")
    for client, entry in scale.items():
        best = entry["max_real_time_k"]
        first = entry["levels"][0]["sessions"] if entry["levels"] else None
        found = best if best is not None else f"below {first} (the first level tried failed)"
        rows.append(f"- {NAMES.get(client, client)}: largest real-time K = {found}")
    return rows


def _verdict(result: Result) -> str:
    verdict = "yes" if result["real_time"] else "**no**"
    first = result.get("first_try")
    if first is not None:
        verdict += (
            f" (retried: the first try had p99 {_f(first['send_lateness_p99_ms'], 1)} / "
            f"{_f(first['receive_lag_p99_ms'], 1)} ms)"
        )
    return verdict


def _gc(result: Result) -> str:
    pauses: list[float] = result.get("gc_full_pauses_ms") or []
    return f"{len(pauses)} ({max(pauses):.0f})" if pauses else "0"


def _settings(results: Result) -> list[str]:
    runs = [r for r in results.get("settings", []) if "error" not in r]
    if not runs:
        return []

    def label(r: Result) -> str:
        if r.get("deflate"):
            return "permessage-deflate on"
        if r.get("chunk_ms") != 20:
            return f"{r['chunk_ms']} ms chunks"
        return "defaults (deflate off, 20 ms chunks)"

    rows = [
        f"### Settings: rtws K = {runs[0]['sessions']}, 48 kHz",
        "",
        "| variant | CPU % per session | kB/s up | kB/s down | messages/s up | "
        "mic → wire p99 ms | chunk content → wire p50 / p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        rows.append(
            f"| {label(r)} | {r['cpu_pct_per_session']:.3f} | {r['kbytes_up_per_s']:.1f} | "
            f"{r['kbytes_down_per_s']:.1f} | {r['msgs_up_per_s']:.0f} | "
            f"{_f(r['mic_to_wire_ms']['p99'], 2)} | {_p(r['mic_content_ms'], 'p50', 'p99')} |"
        )
    return rows


def _barge_in(results: Result) -> list[str]:
    r = results.get("barge_in")
    if not r or "error" in r or "interruptions" not in r:
        return []
    i = r["interruptions"]
    rows = [
        f"### Interruption and truncation: rtws, K = {r['sessions']}, {i['count']} barge-ins",
        "",
        "| | p50 | p95 | p99 | max | goal |",
        "|---|---|---|---|---|---|",
    ]

    def row(label: str, dist: dict[str, Any], goal: str = "") -> None:
        rows.append(
            f"| {label} | {_p(dist, 'p50')} | {_p(dist, 'p95')} | {_p(dist, 'p99')} | "
            f"{_p(dist, 'max')} | {goal} |"
        )

    row("speech_started received → speaker buffer flushed, ms", i["signal_to_flush_ms"])
    row(
        "speech_started received → end of the last audible sample written, ms",
        i["signal_to_silence_ms"],
        "≤ 20 (one block)",
    )
    row("truncate audio_end_ms - audio really played, ms", i["truncate_error_ms"], "within ±20")
    row("  the same, absolute", i["truncate_abs_error_ms"], "≤ 20")
    row(
        "'time since the first delta' (what peers send) - audio really played, ms",
        i["first_delta_error_ms"],
    )
    return rows


def _device(results: Result) -> list[str]:
    r = results.get("device")
    if not r:
        return []
    rows = ["### Interruption on a (virtual) sound device", ""]
    if "skipped" in r:
        rows.append(f"Skipped: {r['skipped']}")
        return rows
    foreign = r.get("foreign_sound_pct") or 0.0
    rows += [
        f"{r['interruptions']} barge-ins, rtws playing to `{r['speaker']}` through PortAudio "
        f"(block {r['block_ms']:g} ms), recorded from `{r['monitor']}`."
        + (
            f" Other programs played to the same sink during {foreign:.1f} % of the recording:"
            " where their sound joins a reply's tail, the monitor figures include it."
            if foreign > 0.5
            else ""
        ),
        "",
        "| | p50 | p95 | p99 | max |",
        "|---|---|---|---|---|",
    ]
    for label, key in (
        (
            "speech_started received → last audible sample in the output callback, ms",
            "callback_silence_ms",
        ),
        ("speech_started received → last sound on the monitor, ms", "monitor_silence_ms"),
        (
            "the same, minus the device path's own delay (reply onsets), ms",
            "monitor_silence_net_ms",
        ),
        ("device path delay: output callback → monitor, ms", "device_delay_ms"),
    ):
        dist = r.get(key)
        cells = " | ".join(_p(dist, k) for k in ("p50", "p95", "p99", "max"))
        rows.append(f"| {label} | {cells} |")
    return rows


def markdown(results: Result) -> str:
    m = results.get("machine", {})
    versions = ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items() if v)
    lines = [
        f"Machine: {m.get('cpu')}, {m.get('cores')} cores, {m.get('memory_gb')} GB, "
        f"{m.get('os')}, Python {m.get('python')}; {versions}. "
        f"Run: {results.get('mode')}, {results.get('started')}"
        + (", fake server pinned to CPU 0 and clients to CPU 1." if results.get("pinned") else "."),
        "",
    ]
    idle = results.get("background_cpu_pct")
    if idle is not None and idle > BUSY_MACHINE_PCT:
        lines += [
            f"**Warning: other processes used {idle:.0f} % of a core before the run (and "
            "'other processes' CPU' below says how much during each stage): latency and "
            "scale figures from a busy machine are not this code's.**",
            "",
        ]
    for section in (_compare, _cost, _scale, _settings, _barge_in, _device):
        part = section(results)
        if part:
            lines += [*part, ""]
    return "\n".join(lines)


def plot(results: Result, path: Path) -> Path | None:
    """Four panels: CPU per session by client, CPU vs K, latency tails, receive lag vs K."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (uv pip install matplotlib)")
        return None
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    compare = [r for r in results.get("compare", []) if "error" not in r]
    colors = {"bare client": "#888888", "openai-agents": "#d62728"}

    def color(label: str) -> str:
        label = label.removesuffix(", gc frozen")  # the same client: the same color, dashed
        return colors.get(label, "#1f77b4" if "24" in label else "#2ca02c")

    ax = axes[0][0]
    if compare:
        labels = [name(r) for r in compare]
        values = [r["cpu_pct_per_session"] for r in compare]
        ax.bar(labels, values, color=[color(x) for x in labels])
        for i, v in enumerate(values):
            ax.text(i, v, f"{v:.2f}", ha="center", va="bottom")
        ax.set_title(f"CPU per session, K = {compare[0]['sessions']}")
        ax.set_ylabel("% of one core")

    ax = axes[0][1]
    scale: dict[str, Any] = results.get("scale") or {}
    ladders: dict[str, list[Result]] = {}  # each scale client's levels that ran, by label
    for entry in scale.values():
        ran = [r for r in entry["levels"] if "error" not in r]
        if ran:
            ladders[name(ran[0])] = ran
    for label, ok in ladders.items():
        ax.plot(
            [r["sessions"] for r in ok],
            [r["cpu_pct"] for r in ok],
            "o--" if "frozen" in label else "o-",
            label=label,
            color=color(label),
        )
    cost = [r for r in results.get("cost", []) if "error" not in r]
    if cost:
        ax.plot(
            [r["sessions"] for r in cost],
            [r["cpu_pct"] for r in cost],
            "s--",
            color="#2ca02c",
            label="rtws 48 kHz (cost)",
        )
    ax.axhline(100, color="k", lw=0.8, ls=":")
    ax.set_title("Client CPU vs sessions")
    ax.set_xlabel("sessions (K)")
    ax.set_ylabel("% of one core")
    ax.legend(fontsize=8)

    ax = axes[1][0]
    if compare:
        metrics = [("mic_to_wire_ms", "mic → wire"), ("wire_to_buffer_ms", "wire → speaker buffer")]
        width = 0.8 / len(compare)
        for i, r in enumerate(compare):
            xs = [j + i * width for j in range(len(metrics))]
            p50 = [r[m]["p50"] or 0 for m, _ in metrics]
            p99 = [r[m]["p99"] or 0 for m, _ in metrics]
            label = name(r)
            ax.bar(xs, p99, width, color=color(label), alpha=0.35)
            ax.bar(xs, p50, width, color=color(label), label=label)
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(metrics))], [t for _, t in metrics])
        ax.axhline(2, color="k", lw=0.8, ls=":")
        ax.set_title("Added latency: p50 (solid), p99 (light); goal p99 ≤ 2 ms")
        ax.set_ylabel("ms")
        ax.legend(fontsize=8)

    ax = axes[1][1]
    for label, ok in ladders.items():
        ax.plot(
            [r["sessions"] for r in ok],
            [r["receive_lag_ms"]["p99"] for r in ok],
            "o--" if "frozen" in label else "o-",
            label=f"{label} receive lag",
            color=color(label),
        )
        ax.plot(
            [r["sessions"] for r in ok],
            [r["send_lateness_ms"]["p99"] for r in ok],
            "x:",
            label=f"{label} send lateness",
            color=color(label),
        )
    ax.axhline(50, color="k", lw=0.8, ls=":")
    ax.axhline(20, color="k", lw=0.8, ls="--")
    ax.set_yscale("symlog", linthresh=10)
    ax.set_ylim(bottom=0)
    ax.set_title("Keeping real time: p99 lag and lateness vs sessions")
    ax.set_xlabel("sessions (K)")
    ax.set_ylabel("ms")
    ax.legend(fontsize=7)

    m = results.get("machine", {})
    fig.suptitle(
        f"rtws benchmarks - {m.get('cpu')}, {m.get('cores')} cores, "
        f"Python {m.get('python')} ({results.get('mode')} run)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
