"""The incident benchmark's tables, and their place in docs/PERFORMANCE.md."""

from __future__ import annotations

import datetime as dt
from typing import Any

from benchmarks.perfdoc import machine, replace_section

TITLE = "## Incident benchmark"
SOAK_TITLE = "## Incident soak"
WHERE = {"edge": "edge WS", "cp": "command post WS"}


def latency_table(result: dict[str, Any]) -> list[str]:
    """p50/p95/p99/max per (node's WebSocket, kind, what is measured)."""
    lines = [
        "| at | kind | measured | samples | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    latency = result["latency"] or {}
    for key in ("edge/vehicle", "edge/unit", "cp/vehicle", "cp/unit"):
        where, kind = key.split("/")
        rows = [("wire → frame", latency.get("wire_ms", {}).get(key))]
        if kind == "vehicle":
            rows.append(("publish → frame", latency.get("publish_ms", {}).get(key)))
        for what, s in rows:
            if not s or not s.get("n"):
                lines.append(f"| {WHERE[where]} | {kind} | {what} | 0 | | | | |")
                continue
            lines.append(
                f"| {WHERE[where]} | {kind} | {what} | {s['n']:,} | {s['p50']:.1f} | {s['p95']:.1f} | "
                f"{s['p99']:.1f} | {s['max']:.1f} |"
            )
    return lines


def process_table(result: dict[str, Any]) -> list[str]:
    """CPU share of one core over the window, RSS at its end and its peak."""
    lines = ["| process | CPU % of one core | RSS MB (end) | RSS MB (peak) |", "|---|---:|---:|---:|"]
    for p in result["processes"]:
        rss = p["rss_mb"] or [0.0]
        lines.append(f"| {p['name']} | {p['cpu_pct']:.0f} | {rss[-1]:.0f} | {max(rss):.0f} |")
    return lines


def _plan_line(result: dict[str, Any]) -> str:
    plan = result["plan"]
    cameras = {"ip": "IP camera (ffmpeg, MPEG-TS/UDP, relayed as sent)", "sim": "sim camera (encoded in the node)"}
    return (
        f"{plan['drones']} drones at 10 Hz, {plan['units']:,} radios every 30 s, {plan['feeds']} "
        f"{cameras[plan.get('cameras', 'sim')]} feed(s) x "
        f"{plan['viewers_per_feed']} WHEP viewer(s), {plan['ws_edge']} WebSocket clients on the edge and "
        f"{plan['ws_post']} on the command post; {result['window_s']:.0f} s window after {plan['warmup_s']:.0f} s "
        f"of warm-up"
    )


def _others(result: dict[str, Any]) -> list[str]:
    window = result["window_s"]
    mesh = result["mesh_bytes"]
    lines = [
        f"- Mesh bytes through the link proxy: edge → post {mesh['edge_to_cp']:,} ({mesh['edge_to_cp'] / window:,.0f}"
        f" B/s), post → edge {mesh['cp_to_edge']:,} ({mesh['cp_to_edge'] / window:,.0f} B/s).",
    ]
    for name, counts in result["counters"].items():
        shown = ", ".join(f"`{k}` {v:g}" for k, v in sorted(counts.items())) or "none"
        lines.append(f"- Nonzero drop/stale/resync counters on `{name}` (/metrics): {shown}.")
    clients = (result["latency"] or {}).get("clients", [])
    resyncs = sum(max(0, c["snapshots"] - 1) for c in clients)
    failed = (result["latency"] or {}).get("failed", [])
    lines.append(f"- WebSocket clients resynced (a second snapshot): {resyncs}; clients failed: {len(failed)}.")
    viewers = result.get("viewers")
    if viewers:
        fps = viewers["fps"]
        lines.append(
            f"- WHEP viewers: {viewers['viewers']} open, frames/s each {min(fps, default=0):g}-{max(fps, default=0):g}"
            f" (cameras send 15); errors: {len(viewers['errors'])}; connections that never connected:"
            f" {viewers.get('never_connected', '?')}, that failed or closed: {viewers.get('failed_or_closed', '?')}"
            + (f"; went silent (s into the window): {silent}." if (silent := viewers.get("went_silent_s")) else ".")
        )
    entities = result["entities"]
    lines.append(
        "- Entities at the end: "
        + "; ".join(
            f"`{n}` {c['vehicle']} vehicles, {c['unit']:,} units, {c['feed']} feeds" for n, c in entities.items()
        )
        + "."
    )
    sent = result.get("sent") or {}
    lines.append(
        f"- Load process sent {sent.get('fixes', 0):,} radio fixes and {sent.get('datagrams', 0):,} MAVLink datagrams"
        f" in all; the mesh linked {result['mesh_up_s']} s after the post started."
        + (
            f" The load process fell over 100 ms behind its drones' schedule {skips:,} times (at worst"
            f" {sent.get('late_ms_max', 0):,} ms) and went on from there each time."
            if (skips := sent.get("late_skips"))
            else ""
        )
    )
    before, after = result["loadavg"]["before"], result["loadavg"]["after"]
    lines.append(f"- Load average (1/5/15 min) before: {_avg(before)}; after: {_avg(after)}.")
    return lines


def _avg(values: list[float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


def _header(title: str, result: dict[str, Any], command: str) -> list[str]:
    return [
        title,
        "",
        f"`{command}` — {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {machine()}; {result['wall_s']:.0f} s wall.",
        "",
        _plan_line(result) + ".",
        "",
    ]


def section(result: dict[str, Any], command: str) -> str:
    """The benchmark's section: latency, processes, then mesh, counters and load (and every run's p99s)."""
    lines = _header(TITLE, result, command)
    lines += [*latency_table(result), "", *process_table(result), "", *_others(result)]
    if result.get("runs"):
        lines += ["", *runs_table(result["runs"])]
    return "\n".join(lines) + "\n"


def _p99(result: dict[str, Any], key: str) -> float:
    stats = ((result.get("latency") or {}).get("wire_ms") or {}).get(key) or {}
    return float(stats.get("p99", float("nan")))


def median_run(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The run whose edge drone p99 is the median (the lower middle one of an even count)."""
    ranked = sorted(results, key=lambda r: _p99(r, "edge/vehicle"))
    return ranked[(len(ranked) - 1) // 2]


def run_summary(result: dict[str, Any]) -> dict[str, Any]:
    """What the runs table shows of one run."""
    cpu = {p["name"]: p["cpu_pct"] for p in result["processes"]}
    return {
        "p99": {key: _p99(result, key) for key in ("edge/vehicle", "edge/unit", "cp/vehicle", "cp/unit")},
        "edge_cpu_pct": cpu.get("edge"),
        "load_before": result["loadavg"]["before"][0],
    }


def runs_table(runs: list[dict[str, Any]]) -> list[str]:
    """Every run's p99 wire → frame (ms): the tables above are the median run's."""
    lines = [
        f"Each of the {len(runs)} runs (the tables above are the run with the median edge drone p99):",
        "",
        "| run | edge drones p99 | edge radios p99 | post drones p99 | post radios p99 | edge CPU % | load before |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, run in enumerate(runs, 1):
        p = run["p99"]
        lines.append(
            f"| {n} | {p['edge/vehicle']:.1f} | {p['edge/unit']:.1f} | {p['cp/vehicle']:.1f} | {p['cp/unit']:.1f} | "
            f"{run['edge_cpu_pct']:.0f} | {run['load_before']:.2f} |"
        )
    return lines


def rss_growth(samples: list[float]) -> float:
    """Growth in % from the first sample of the window to the last."""
    return 100 * (samples[-1] - samples[0]) / samples[0] if len(samples) >= 2 and samples[0] else 0.0


def soak_section(result: dict[str, Any], command: str) -> str:
    """The soak's section: RSS growth after warm-up per process, its samples, then the latency table."""
    lines = _header(SOAK_TITLE, result, command)
    lines += ["| process | RSS MB after warm-up | RSS MB at the end | peak | growth |", "|---|---:|---:|---:|---:|"]
    for p in result["processes"]:
        rss = p["rss_mb"] or [0.0]
        lines.append(f"| {p['name']} | {rss[0]:.1f} | {rss[-1]:.1f} | {max(rss):.1f} | {rss_growth(rss):+.1f} % |")
    edge = next(p for p in result["processes"] if p["name"] == "edge")
    series = ", ".join(f"{at:.0f} s: {mb:.1f}" for at, mb in zip(edge["rss_at"], edge["rss_mb"], strict=True))
    lines += ["", f"Edge RSS (MB) every 30 s from the end of warm-up: {series}.", ""]
    lines += [*latency_table(result), "", *_others(result)]
    return "\n".join(lines) + "\n"


def write_doc(text: str, *, soak: bool = False) -> None:
    """Replace (or add) the benchmark's or the soak's section in docs/PERFORMANCE.md."""
    replace_section(SOAK_TITLE if soak else TITLE, text)
