"""TAK Protocol negotiation on a streaming connection (pure): who may switch from XML to protobuf, when.

From ATAK-CIV's takproto README ("Streaming Connection Protocol Negotiation"): a connection starts
in XML. A server that can speak TAK Protocol says so once with ``t-x-takp-v`` (``TakControl`` /
``TakProtocolSupport version="1"``); a client that wants it answers ``t-x-takp-q`` (``TakRequest``)
and then sends nothing until the server's ``t-x-takp-r`` (``TakResponse status="true|false"``),
after which both sides use stream frames (true) or go on in XML (false). A client waits at most a
minute for the answer, then disconnects. The same uid ("protouid") runs through all three.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from .cot import cot_time
from .cotin import CotEvent

OFFER, REQUEST, RESPONSE = "t-x-takp-v", "t-x-takp-q", "t-x-takp-r"
VERSION = 1  # the TAK Protocol version we speak
ANSWER_TIMEOUT_S = 60.0


def control_event(kind: str, uid: str, now: float, child: str, attrs: dict[str, str]) -> ET.Element:
    """One negotiation event (``kind`` is OFFER, REQUEST or RESPONSE)."""
    event = ET.Element(
        "event",
        {
            "version": "2.0",
            "uid": uid,
            "type": kind,
            "how": "m-g",
            "time": cot_time(now),
            "start": cot_time(now),
            "stale": cot_time(now + ANSWER_TIMEOUT_S),
        },
    )
    ET.SubElement(event, "point", {"lat": "0.0", "lon": "0.0", "hae": "0.0", "ce": "999999", "le": "999999"})
    control = ET.SubElement(ET.SubElement(event, "detail"), "TakControl")
    ET.SubElement(control, child, attrs)
    return event


def offer(uid: str, now: float) -> ET.Element:
    """The server's ``t-x-takp-v``: TAK Protocol version 1 is available."""
    return control_event(OFFER, uid, now, "TakProtocolSupport", {"version": str(VERSION)})


def request(uid: str, now: float) -> ET.Element:
    """The client's ``t-x-takp-q``: switch to version 1, please."""
    return control_event(REQUEST, uid, now, "TakRequest", {"version": str(VERSION)})


def response(uid: str, accepted: bool, now: float) -> ET.Element:
    """The server's ``t-x-takp-r``."""
    return control_event(RESPONSE, uid, now, "TakResponse", {"status": "true" if accepted else "false"})


def is_control(event: CotEvent) -> bool:
    """True for a negotiation event (never a thing for the picture)."""
    return event.type in (OFFER, REQUEST, RESPONSE)
