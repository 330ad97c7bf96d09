"""Fuzz the API: how request bodies are decoded and checked (in process, a byte target like the
parsers), the HTTP API of a real node process with the same bodies, and every operation of the OpenAPI
document by schemathesis.

The in-process target ``api.json_parser`` takes a body the way Litestar does (``decode_json``, then
``msgspec.convert`` into the handler's type, non-strict) and then the handler's own checks; only the
errors that become a 400 may come out. The over-HTTP targets are Hypothesis and schemathesis tests
with their own sizes: each request costs a round trip to another process, and coverage guidance
cannot see into that process.

One ``fieldkit run`` subprocess (loopback, no radio, no drones, no video: nothing a command could
move) serves both targets with a pilot token (drone commands) or an admin one (everything else; an
admin may do all a pilot may, so schemathesis reaches every operation with it).
Neither may get a 5xx: ``schemathesis`` runs its ``not_a_server_error`` check and the response
conformance checks (status codes, content types, bodies against the schema) on every operation.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import msgspec
import pytest
from fuzz.draw import Draw
from fuzz.harness import (
    DETERMINISTIC,
    FUZZ,
    FUZZ_EXAMPLES,
    TALLIES,
    HangError,
    Tally,
    bounded,
    byte_strings,
    check,
    rounds,
    target,
)
from fuzz.mutate import mutated
from hypothesis import given
from kit import NodeProcess, kit_config, spawn_node, stop_process, write_config
from litestar.exceptions import SerializationException, ValidationException
from litestar.serialization import decode_json
from litestar.serialization.msgspec_hooks import default_deserializer

from drones import BadCommand, CommandRequest
from edge.api.bodies import check_json_depth
from edge.api.routes import NewAlert, NewMarker, NewMessage, _check_marker
from edge.api.tokens import NewShare, NewToken
from edge.auth import Role, TokenStore
from edge.config import ApiSection
from edge.scene import Entity

NOW = time.time()
VALID: dict[str, dict[str, object]] = {
    "/api/messages": {"text": "hold position", "to": "all"},
    "/api/alerts": {"title": "man down", "text": "gate 3", "severity": "emergency", "pos": {"lat": 36.7, "lon": 119.1}},
    "/api/markers": {"name": "staging", "shape": "polygon", "points": [[36.7, 119.1], [36.8, 119.1], [36.8, 119.2]],
                     "category": "geofence", "fence_entry": True},
    "/api/entities": {"kind": "unit", "id": "unit:pdt:4242", "origin": "kit-test", "ts": NOW, "name": "r1",
                      "pos": {"lat": 36.7, "lon": 119.16}},
    "/api/tokens": {"role": "viewer", "label": "fuzz", "expires_in_s": 60},
    "/api/shares": {"label": "agency", "expires_in_s": 60},
    "/api/vehicles/vehicle:kit-test:1/commands": {"command": "goto", "lat": 36.7, "lon": 119.1, "alt_m": 30},
    "/api/markers/marker:kit-test:fuzz": {"name": "moved", "shape": "circle", "points": [[36.7, 119.1]],
                                          "radius_m": 50},
}
HOSTILE_RAW = [b"", b"{", b"[" * 100_000, b"{\"a\":" * 50_000, b"1e999999", b"NaN", b"-Infinity", b"\xef\xbb\xbf{}",
               b'{"text":"\\ud800"}', b'{"text":"x","text":"y"}', b"\xff\xfe\x00", b"null", b"0", b'"x"',
               b'{"points":[[1e308,1e308]]}', b'{"title":"' + b"\\u0000" * 100 + b'"}']


# No 5xx; and every answer as the document says: its status code, its content type, its body's schema.
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    tmp = tmp_path_factory.mktemp("fuzz-node")
    process = spawn_node(write_config(tmp, kit_config(tmp)))
    try:
        yield process
    finally:
        stop_process(process.proc)


def json_value(d: Draw, depth: int = 0) -> object:
    """Any JSON value: a scalar, or (three levels at most) a short list or object of them."""
    kind = d.int(0, 6)
    if kind == 0:
        return None
    if kind == 1:
        return d.bool()
    if kind == 2:
        return d.int(-(2**70), 2**70)
    if kind == 3:
        value = d.float()
        return value if value == value and abs(value) != float("inf") else 0.5
    if kind == 4 or depth >= 3:
        return d.text(20)
    if kind == 5:
        return [json_value(d, depth + 1) for _ in range(d.int(0, 4))]
    return {d.text(10): json_value(d, depth + 1) for _ in range(d.int(0, 4))}


def _field_damaged(d: Draw, body: dict[str, object]) -> dict[str, object]:
    """A valid body with a field dropped, replaced by any JSON value, or one added."""
    kind, key = d.int(0, 2), d.choice(sorted(body))
    if kind == 0:
        return {n: v for n, v in body.items() if n != key}
    return {**body, (key if kind == 1 else d.text(12)): json_value(d)}


def request(d: Draw) -> tuple[str, str, bytes]:
    """(method, path, body): a JSON body valid, damaged by field, by byte, random, or hostile raw bytes."""
    path = d.choice(PATHS)
    encoded = ENCODED[path]
    kind = d.int(0, 5)
    if kind == 0:
        body = encoded
    elif kind == 1:
        body = json.dumps(_field_damaged(d, VALID[path])).encode()
    elif kind == 2:
        body = mutated(d, [encoded])
    elif kind == 3:
        body = json.dumps(json_value(d)).encode()
    elif kind == 4:
        body = d.choice(HOSTILE_RAW)
    else:
        body = d.bytes(200)
    return ("PUT" if path.startswith("/api/markers/") else "POST"), path, body


PATHS = sorted(VALID)
ENCODED = {path: json.dumps(body).encode() for path, body in VALID.items()}
BODY_TYPES: dict[str, type] = {
    "/api/messages": NewMessage, "/api/alerts": NewAlert, "/api/markers": NewMarker, "/api/entities": Entity,  # type: ignore[dict-item]
    "/api/tokens": NewToken, "/api/shares": NewShare, "/api/vehicles/vehicle:kit-test:1/commands": CommandRequest,
    "/api/markers/marker:kit-test:fuzz": NewMarker,
}
_DESERIALIZER = partial(default_deserializer, type_decoders=None)
MAX_BODY = ApiSection().max_body_bytes


@target("api.json_parser", allowed=(SerializationException, msgspec.ValidationError, ValidationException, BadCommand))
def json_parser(d: Draw) -> None:
    """A request body the way the API takes it: Litestar's JSON decode and conversion, the handler's checks."""
    _method, path, body = request(d)
    if len(body) > MAX_BODY:
        return  # the server answers 413 without reading it
    check_json_depth(body)  # the app's before_request hook
    value = decode_json(body or b"null")
    data = msgspec.convert(value, BODY_TYPES[path], strict=False, dec_hook=_DESERIALIZER, str_keys=True)
    if isinstance(data, NewMarker):
        _check_marker(data)
    elif isinstance(data, CommandRequest):
        data.check()
    msgspec.json.encode(data)  # what the answer (or the stored event made of it) carries


def test_api_json_parser() -> None:
    bounded(json_parser)


def test_api_json_bodies(node: NodeProcess) -> None:
    pilot, admin = node.client(Role.PILOT), node.client(Role.ADMIN)
    statuses: dict[int, int] = {}

    @FUZZ
    @given(data=byte_strings(4096))
    def once(data: bytes) -> None:
        method, path, body = request(Draw(data))
        client = pilot if "/commands" in path else admin

        def send() -> None:
            try:
                r = client.request(method, path, content=body, headers={"Content-Type": "application/json"})
            except httpx.TimeoutException as exc:
                TALLIES["api.json_bodies"].hangs += 1
                raise HangError(f"{method} {path}: no answer in 10 s") from exc
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            assert r.status_code < 500, f"{method} {path} {body[:200]!r} -> {r.status_code} {r.text[:300]}"
            if r.status_code != 204:
                r.json()  # every answer, error or not, is JSON

        check("api.json_bodies", send)

    try:
        rounds("api.json_bodies", once)
    finally:
        pilot.close()
        admin.close()
    assert node.proc.poll() is None, "the node died"
    assert node.client(Role.VIEWER).get("/healthz").status_code == 200


def test_schemathesis_against_the_openapi_document(node: NodeProcess, tmp_path: Path) -> None:
    """Every operation of ``/api/schema/openapi.json`` with generated requests: no 5xx, answers as documented."""
    report = tmp_path / "junit.xml"
    started = time.perf_counter()
    run = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")), "run", f"{node.url}api/schema/openapi.json",
            "--url", node.url.rstrip("/"),
            "--header", f"Authorization: Bearer {node.tokens[Role.ADMIN]}",
            "--checks", CHECKS,
            "--max-examples", str(max(15, FUZZ_EXAMPLES // 1000)),  # per operation: 1,000 each at 10^6
            # Revoking tokens at random would revoke the one this run holds and leave it testing 401s.
            "--exclude-path-regex", "^/api/tokens/",
            "--request-timeout", "10",
            "--workers", "1",
            "--no-color",
            *(["--seed", "1", "--generation-deterministic"] if DETERMINISTIC else []),
            "--report", "junit", "--report-junit-path", str(report),
        ],
        capture_output=True, text=True, timeout=None if FUZZ_EXAMPLES > 1000 else 600, cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
    )
    tally = TALLIES.setdefault("api.schemathesis", Tally())
    tally.seconds += time.perf_counter() - started
    tally.inputs += _requests_made(run.stdout)
    if run.returncode != 0:
        tally.crashes.add("schemathesis found failures")
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert node.proc.poll() is None, "the node died"


def _requests_made(out: str) -> int:
    """The "N generated" of schemathesis' summary."""
    found = re.search(r"(\d+) generated", out)
    return int(found.group(1)) if found else 0


# -- bearer tokens: the Authorization header and the WebSocket hello carry them from outside ---------------

_STORE = TokenStore(None)
_TOKENS = [_STORE.create(role, f"{role.name.lower()} fuzz", persist=False) for role in Role]


TOKEN_BYTES = [t.encode() for t in _TOKENS]


@target("api.token_verify")
def token_verify(d: Draw) -> None:
    """Any text, or a mutated real token, as a bearer token: only the real ones verify."""
    token = d.text(120) if d.bool() else mutated(d, TOKEN_BYTES).decode("utf-8", "replace")
    principal = _STORE.verify(token)
    assert principal is None or token in _TOKENS


def test_token_verify() -> None:
    bounded(token_verify)
