"""Each shipped scenario played headless by `fieldkit sim`, with the node's real response to every fault.

The timeline runs on the sim clock, so ``--speedup`` plays a few minutes of incident in about 20 s.
The test watches the command post's API as an operator's page would, and checks each timeline entry
against what the node shows: an emergency alert for the unit, the drone's GPS fix and alert, its
failsafe mode and battery alert, the radio component restarting and running again, the feed going
stalled then live, the tethered drone's ground power; a cut between kits is recorded (one node).
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx
import pytest
from kit import FIELDKIT

from sim.fleet_plan import plan_fleet
from sim.scenario import load_scenario, resolve
from sim.teams import plan_units
from sim.timeline import schedule

SPEEDUP = 10.0
NODE = "sim-kit"


class Watch:
    """What the command post saw, polled from the API: every value each field took, in order."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], list[object]] = defaultdict(list)
        self.radio: list[tuple[str, int]] = []

    def record(self, key: tuple[str, str], value: object) -> None:
        values = self.seen[key]
        if not values or values[-1] != value:
            values.append(value)

    def poll(self, client: httpx.Client) -> None:
        for e in client.get("/api/scene").json()["entities"]:
            if e["kind"] == "vehicle":
                for name in ("mode", "gps_fix", "tether_power"):
                    self.record((e["id"], name), e.get(name))
            elif e["kind"] == "feed":
                self.record((e["id"], "state"), e["state"])
        radio = client.get("/healthz").json()["components"]["radio-pdt"]
        state = (radio["state"], radio["restarts"])
        if not self.radio or self.radio[-1] != state:
            self.radio.append(state)


def _lines(stream: object, into: list[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.append(line)


@pytest.mark.parametrize("name", ["city-highrise-fire", "forest-fire", "river-flood"])
def test_shipped_scenario_plays_its_timeline_and_every_fault_shows(name: str, tmp_path: Path) -> None:
    shipped = resolve(name)
    scenario = load_scenario(shipped)
    steps = schedule(scenario.timeline)
    # The shipped file as it is, with no GCS port (tests run side by side).
    copy = tmp_path / f"{name}.toml"
    copy.write_text("gcs_udp_port = 0\n" + shipped.read_text(encoding="utf-8"), encoding="utf-8")
    proc = subprocess.Popen(
        [*FIELDKIT, "sim", "--scenario", str(copy), "--port", "0", "--speedup", str(SPEEDUP), "--no-browser-hint"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    log: list[str] = []
    assert proc.stdout is not None and proc.stderr is not None
    threading.Thread(target=_lines, args=(proc.stderr, log), daemon=True).start()
    watch = Watch()
    try:
        url = re.search(r"serving (http://\S+/)", proc.stdout.readline())
        token = re.search(r"session token (fk_\S+)", proc.stdout.readline())
        assert url and token
        with httpx.Client(base_url=url.group(1), headers={"Authorization": f"Bearer {token.group(1)}"}) as client:
            # the whole timeline, and a margin (sim seconds) for the last fault's effects to show
            deadline = time.monotonic() + 30 + (steps[-1].at_s + 30) / SPEEDUP
            done = f"timeline: all {len(steps)} steps played"
            finished_at = None
            while time.monotonic() < deadline:
                watch.poll(client)
                if finished_at is None and any(done in line for line in log):
                    finished_at = time.monotonic()
                if finished_at is not None and time.monotonic() - finished_at > 30 / SPEEDUP:
                    break
                time.sleep(0.2)
            assert finished_at is not None, "the timeline did not finish:\n" + "".join(log[-40:])
            alerts = [r["alert"] for r in client.get("/api/alerts").json()]
            messages = client.get("/api/messages").json()
    finally:
        proc.terminate()
        proc.wait(30)
    _check_every_entry(name, watch, alerts, messages, log)


def _check_every_entry(name: str, watch: Watch, alerts: list[dict], messages: list[dict], log: list[str]) -> None:
    scenario = load_scenario(resolve(name))
    units = {p.alias: p.radio_id for p in plan_units(scenario)}
    sysids = {p.name: p.config.sysid for p in plan_fleet(scenario)}
    text = "".join(log)
    for entry in scenario.timeline:
        what = f"{name}: {entry.event} at {entry.at_s:.0f}s"
        vehicle = f"vehicle:{NODE}:{sysids.get(entry.drone)}"
        titles = [a["title"] for a in alerts if a.get("entity_id") == vehicle]
        if entry.event == "emergency":
            unit = f"unit:pdt:{units[entry.unit]}"
            assert any(a["severity"] == "emergency" and a.get("entity_id") == unit for a in alerts), what
        elif entry.event == "message":
            assert any(m["text"] == entry.text and m["via"] == "pdt" for m in messages), what
        elif entry.event == "gps_loss":
            fixes = watch.seen[(vehicle, "gps_fix")]
            lost = [i for i, f in enumerate(fixes) if f in ("no_gps", "no_fix")]
            assert lost and "3d" in fixes[lost[0] :], f"{what}: fix went {fixes}"
            assert any("GPS lost" in t for t in titles), f"{what}: alerts {titles}"
        elif entry.event == "battery_failsafe":
            modes = watch.seen[(vehicle, "mode")]
            assert {"RTL", "LAND"} & set(modes), f"{what}: modes {modes}"
            assert any("attery" in t for t in titles), f"{what}: alerts {titles}"
        elif entry.event == "tether_power_loss":
            power = watch.seen[(vehicle, "tether_power")]
            assert [p for p in power if p is not None][-3:] == [True, False, True], f"{what}: power {power}"
        elif entry.event == "gateway_unplug":
            states = watch.radio
            # the link failed (a restart counted) and the supervisor brought it back once replugged
            assert states[0][1] == 0 and states[-1][0] == "running" and states[-1][1] >= 1, f"{what}: {states}"
        elif entry.event == "camera_stall":
            feed = watch.seen[(f"feed:{NODE}:{entry.feed}", "state")]
            assert "stalled" in feed and feed[feed.index("stalled") - 1] == "live", f"{what}: feed {feed}"
            assert "live" in feed[feed.index("stalled") :], f"{what}: feed {feed}"
        elif entry.event == "link_cut":
            assert f"link_cut (kits={' / '.join(entry.kits)}): recorded" in text, what
        else:
            raise AssertionError(f"no check for {entry.event}")
