"""Radio events into the picture (units, presence, calls, alarms, texts) and texts out (retry, receipts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.radio import Alarm, AlarmKind, CallEnd, CallStart, Delivery, Fix, FixMode, Presence, Status, Text
from edge.radio.outbox import Outbox
from edge.radio.picture import RadioPicture, RosterEntry, RosterError, load_roster
from edge.scene import Alert, AlertClear, Call, Message, Unit

T = 1_800_000_000.0


def picture(**kw) -> RadioPicture:
    roster = {"1001": RosterEntry(alias="指挥-01", team="指挥", talkgroup="9001")}
    return RadioPicture(node_id="kit1", roster=roster, offline_after_s=60.0, **kw)


def test_fix_status_and_call_add_up_to_one_unit() -> None:
    p = picture()
    (u1,) = p.apply(
        Fix(unit="1001", lat=36.7, lon=119.16, alt_msl_m=20.0, mode=FixMode.THREE_D, speed_mps=1.2, course_deg=90.0), T
    )
    assert isinstance(u1, Unit)
    assert (u1.id, u1.name, u1.team, u1.talkgroup, u1.online) == ("unit:pdt:1001", "指挥-01", "指挥", "9001", True)
    (u2,) = p.apply(Status(unit="1001", battery_pct=55.0), T)
    assert u2.battery_pct == 55.0 and u2.pos == u1.pos and u2.ts > u1.ts, "same second, still a newer value"
    (u3,) = p.apply(CallStart(caller="1001", talkgroup="9002"), T + 1)
    assert u3.talking and u3.talking_on == "9002" and u3.talking_since == T + 1 and u3.battery_pct == 55.0
    assert u3.talkgroup == "9001", "the home talkgroup stays; the call's is talking_on"
    u4, _call = p.apply(CallEnd(caller="1001", talkgroup="9002"), T + 4)
    assert (u4.talking, u4.talking_on, u4.talking_since) == (False, None, None)


def test_fix_without_position_or_unit_is_ignored() -> None:
    p = picture()
    assert p.apply(Fix(unit=None, lat=36.7, lon=119.1, mode=FixMode.THREE_D), T) == []
    assert p.apply(Fix(unit="1001", mode=FixMode.NONE), T) == []
    assert p.ignored_fixes == 2


def test_call_end_logs_the_call_with_its_duration() -> None:
    p = picture()
    p.apply(CallStart(caller="1002", talkgroup="9001"), T)
    unit, call = p.apply(CallEnd(caller="1002", talkgroup="9001"), T + 7.5)
    assert isinstance(call, Call) and not unit.talking
    assert (call.caller, call.talkgroup, call.start_ts, call.duration_s) == ("unit:pdt:1002", "9001", T, 7.5)


def test_lost_call_end_is_closed_by_tick_and_silent_units_go_offline() -> None:
    p = picture()
    p.apply(CallStart(caller="1002", talkgroup="9001"), T)
    p.apply(Fix(unit="1003", lat=36.7, lon=119.1, mode=FixMode.TWO_D), T + 250)
    changes = p.tick(T + 301)
    calls = [c for c in changes if isinstance(c, Call)]
    assert [c.duration_s for c in calls] == [301.0]
    offline = [c for c in changes if isinstance(c, Unit) and not c.online]
    assert [u.id for u in offline] == ["unit:pdt:1002"], "1003 was heard 51 s ago: still online"
    assert [u.id for u in p.tick(T + 320) if isinstance(u, Unit)] == ["unit:pdt:1003"]
    assert p.tick(T + 330) == []


def test_alarm_raises_once_and_clears_its_alert() -> None:
    p = picture()
    p.apply(Fix(unit="1001", lat=36.7, lon=119.1, mode=FixMode.THREE_D), T)
    unit, alert = p.apply(Alarm(unit="1001"), T + 1)
    assert unit.emergency and isinstance(alert, Alert)
    assert alert.entity_id == "unit:pdt:1001" and "指挥-01" in alert.title and alert.pos == unit.pos
    assert p.apply(Alarm(unit="1001"), T + 2) == [], "a repeated alarm is the same alarm"
    man_down = p.apply(Alarm(unit="1001", kind=AlarmKind.MAN_DOWN), T + 3)
    assert isinstance(man_down[1], Alert) and man_down[1].id != alert.id
    unit, clear = p.apply(Alarm(unit="1001", cleared=True), T + 4)
    assert not unit.emergency and isinstance(clear, AlertClear) and clear.alert_id == alert.id


def test_texts_become_messages_with_stable_ids() -> None:
    p = picture()
    (m,) = p.apply(Text(src="1001", dst="9001", text="收到", group=True, msg_id=7), T)
    assert isinstance(m, Message)
    assert (m.sender, m.to, m.text, m.via, m.id) == ("指挥-01", "talkgroup:pdt:9001", "收到", "pdt", "pdt-text-1001-7")
    (again,) = p.apply(Text(src="1001", dst="9001", text="收到", group=True, msg_id=7), T + 5)
    assert again.id == m.id, "a repeated report keeps its id so the journal takes it once"
    (private,) = p.apply(Text(src="1002", dst="1001", text="x"), T)
    assert private.to == "unit:pdt:1001" and private.sender == "1002"


def test_presence() -> None:
    p = picture()
    (u,) = p.apply(Presence(unit="1005", online=False), T)
    assert not u.online
    (u,) = p.apply(Presence(unit="1005", online=True), T + 1)
    assert u.online


def test_roster_csv(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text("radio_id,alias,team,talkgroup\n1001,指挥-01,指挥,9001\n1002,,一中队,\n", encoding="utf-8")
    roster = load_roster(path)
    assert roster["1001"] == RosterEntry("指挥-01", "指挥", "9001")
    assert roster["1002"] == RosterEntry("1002", "一中队", None)
    path.write_text("radio_id,alias\nabc,x\n", encoding="utf-8")
    with pytest.raises(RosterError, match="line 2: radio_id 'abc' is not a number"):
        load_roster(path)
    path.write_text("id,name\n1,x\n", encoding="utf-8")
    with pytest.raises(RosterError, match="header"):
        load_roster(path)


def msg(to: str, mid: str = "msg-1", via: str = "", origin: str = "kit1") -> Message:
    return Message(id=mid, origin=origin, ts=T, sender="op", to=to, text="撤离 Evacuate", via=via)


def test_outbox_takes_only_our_texts_to_this_system() -> None:
    box = Outbox(node_id="kit1", system="pdt")
    assert box.wants(msg("unit:pdt:1001"))
    assert box.wants(msg("talkgroup:pdt:9001"))
    assert not box.wants(msg("all"))
    assert not box.wants(msg("unit:tetra:1001"))
    assert not box.wants(msg("unit:pdt:1001", via="pdt")), "a text that came in over the radio is not sent back"
    assert not box.wants(msg("unit:pdt:1001", origin="kit2")), "another node's gateway carries its own"


def test_outbox_retries_then_reports_failure() -> None:
    box = Outbox(node_id="kit1", system="pdt", retry_s=10.0, attempts=3)
    assert box.submit(msg("unit:pdt:1001"), T)
    assert not box.submit(msg("unit:pdt:1001"), T), "the same message is taken once"
    tries = []
    for t in range(0, 40):
        for p in box.due(T + t):
            tries.append((t, p.attempts, p.msg_id))
            assert box.sent(p, T + t) is None
    assert [t[:2] for t in tries] == [(0, 1), (10, 2), (20, 3)]
    assert len({t[2] for t in tries}) == 1, "every try carries the same reference"
    assert box.expired(T + 29) == []
    (receipt,) = box.expired(T + 30)
    assert (receipt.ok, receipt.attempts, receipt.message_id) == (False, 3, "msg-1")
    assert "after 3 tries" in receipt.reason


def test_outbox_delivery_report_settles_a_text() -> None:
    box = Outbox(node_id="kit1", system="pdt")
    box.submit(msg("unit:pdt:1001"), T)
    (p,) = box.due(T)
    assert box.delivered(Delivery(msg_id=p.msg_id + 1, unit="1001", ok=True), T) is None
    receipt = box.delivered(Delivery(msg_id=p.msg_id, unit="1001", ok=True), T + 2)
    assert receipt is not None and receipt.ok and receipt.recipient == "unit:pdt:1001"
    assert box.delivered(Delivery(msg_id=p.msg_id, unit="1001", ok=True), T + 3) is None
    assert box.due(T + 100) == [] and box.expired(T + 100) == []


def test_group_text_is_receipted_when_sent() -> None:
    box = Outbox(node_id="kit1", system="pdt")
    box.submit(msg("talkgroup:pdt:9001"), T)
    (p,) = box.due(T)
    receipt = box.sent(p, T)
    assert receipt is not None and receipt.ok and "no delivery report" in receipt.reason
