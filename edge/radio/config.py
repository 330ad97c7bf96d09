"""The `[radio]` section: where the gateway is, how it frames its bytes, and what to do with them."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct

from .binary_description import BinaryFraming


def _doc(text: str) -> Meta:
    return Meta(description=text)


class MotoTrboSection(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """MOTOTRBO data services on UDP: the service ports and how radio ids map to IP addresses."""

    lrrp_port: Annotated[int, _doc("UDP port of LRRP location, ours and the radios'."), Meta(ge=1, le=65535)] = 4001
    ars_port: Annotated[int, _doc("UDP port of ARS registration, ours and the radios'."), Meta(ge=1, le=65535)] = 4005
    tms_port: Annotated[int, _doc("UDP port of TMS text messages, ours and the radios'."), Meta(ge=1, le=65535)] = 4007
    radio_network: Annotated[
        int, _doc("First octet of radio addresses (CAI network): radio 1001 is 12.0.3.233."), Meta(ge=1, le=255)
    ] = 12
    group_network: Annotated[
        int, _doc("First octet of talkgroup addresses (CAI group network), for texts to a talkgroup."),
        Meta(ge=1, le=255),
    ] = 225
    report_interval_s: Annotated[
        int,
        _doc("Ask every radio that registers to report its position this often (LRRP triggered request); 0: off."),
        Meta(ge=0, le=86400),
    ] = 0


class RadioSection(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A PDT/DMR radio gateway on a serial port, UDP or TCP."""

    enabled: Annotated[bool, _doc("Connect to a radio gateway.")] = False
    system: Annotated[
        str,
        _doc("Radio system name used in ids (`unit:<system>:<radio id>`)."),
        Meta(pattern=r"^[a-z][a-z0-9-]{0,15}$"),
    ] = "pdt"
    transport: Annotated[Literal["serial", "udp", "tcp"], _doc("How the gateway is reached.")] = "serial"
    framing: Annotated[
        Literal["nmea", "hytera", "binary", "mototrbo"],
        _doc(
            "What the gateway speaks: NMEA 0183 with unit-id sentences, Hytera HRNP/HDAP, the binary framing "
            "described in `radio.binary`, or Motorola MOTOTRBO LRRP/ARS/TMS over UDP on `radio.host` and the ports "
            "in `radio.mototrbo` (`transport` is then not used)."
        ),
    ] = "nmea"
    device: Annotated[str, _doc("Serial device (e.g. /dev/ttyUSB0).")] = "/dev/ttyUSB0"
    baudrate: Annotated[int, _doc("Serial speed."), Meta(ge=300, le=4_000_000)] = 9600
    bytesize: Annotated[Literal[5, 6, 7, 8], _doc("Serial data bits.")] = 8
    parity: Annotated[Literal["N", "E", "O", "M", "S"], _doc("Serial parity: N, E, O, M or S.")] = "N"
    stopbits: Annotated[Literal["1", "1.5", "2"], _doc("Serial stop bits.")] = "1"
    rtscts: Annotated[bool, _doc("Serial hardware flow control.")] = False
    xonxoff: Annotated[bool, _doc("Serial software flow control.")] = False
    host: Annotated[str, _doc("TCP: the gateway's address. UDP: the local address to listen on.")] = "127.0.0.1"
    port: Annotated[int, _doc("TCP: the gateway's port. UDP: the local port to listen on."), Meta(ge=0, le=65535)] = (
        4001
    )
    peer_host: Annotated[str, _doc("UDP: where to send; empty means whoever sent to us last.")] = ""
    peer_port: Annotated[int, _doc("UDP: the peer's port."), Meta(ge=0, le=65535)] = 0
    roster: Annotated[str, _doc("Roster CSV (`radio_id,alias,team,talkgroup`); empty for none.")] = ""
    offline_after_s: Annotated[float, _doc("A unit not heard for this long is shown offline."), Meta(gt=0)] = 600.0
    poll_interval_s: Annotated[
        float,
        _doc("Ask every known unit for its position this often (0: never; only framings that can poll)."),
        Meta(ge=0),
    ] = 0.0
    text_retry_s: Annotated[float, _doc("Re-send an unacknowledged text after this long."), Meta(gt=0)] = 10.0
    text_attempts: Annotated[int, _doc("Tries before a text is reported undelivered."), Meta(ge=1, le=20)] = 3
    raw_log: Annotated[str, _doc("Append every received byte, time-stamped, to this file for replay; empty: off.")] = ""
    mototrbo: Annotated[
        MotoTrboSection | None, _doc('For `framing = "mototrbo"`: `[radio.mototrbo]`; absent means the defaults.')
    ] = None
    binary: Annotated[
        BinaryFraming | None,
        _doc(
            'The vendor framing for `framing = "binary"`: `[radio.binary]` and its sub-tables '
            '(docs/RADIO_BINARY.md).'
        ),
    ] = None
