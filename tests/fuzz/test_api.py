"""Fuzz the HTTP API of a real node process: JSON bodies by hand-made strategy, and every operation of
the OpenAPI document by schemathesis.

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
from pathlib import Path

import httpx
import pytest
from api.test_rest import json_values
from fuzz.harness import DETERMINISTIC, FUZZ, FUZZ_EXAMPLES, TALLIES, HangError, Tally, check, rounds
from fuzz.mutate import mutated
from hypothesis import given
from hypothesis import strategies as st
from kit import NodeProcess, kit_config, spawn_node, stop_process, write_config

from edge.auth import Role, TokenStore

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


def _fields(body: dict[str, object]) -> st.SearchStrategy[dict[str, object]]:
    """A valid body with a field dropped, replaced by any JSON value, or one added."""
    keys = sorted(body)
    return st.one_of(
        st.sampled_from(keys).map(lambda k: {n: v for n, v in body.items() if n != k}),
        st.tuples(st.sampled_from(keys), json_values).map(lambda kv: {**body, kv[0]: kv[1]}),
        st.tuples(st.text(max_size=12), json_values).map(lambda kv: {**body, kv[0]: kv[1]}),
    )


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, bytes]:
    """(method, path, body): a JSON body valid, damaged by field, by byte, random, or hostile raw bytes."""
    path = draw(st.sampled_from(sorted(VALID)))
    valid = VALID[path]
    encoded = json.dumps(valid).encode()
    body = draw(st.one_of(
        st.just(encoded),
        _fields(valid).map(lambda b: json.dumps(b).encode()),
        mutated([encoded]),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.sampled_from(HOSTILE_RAW),
        st.binary(max_size=200),
    ))
    return ("PUT" if path.startswith("/api/markers/") else "POST"), path, body


def test_api_json_bodies(node: NodeProcess) -> None:
    pilot, admin = node.client(Role.PILOT), node.client(Role.ADMIN)
    statuses: dict[int, int] = {}

    @FUZZ
    @given(request=requests())
    def once(request: tuple[str, str, bytes]) -> None:
        method, path, body = request
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


@FUZZ
@given(token=st.one_of(st.text(max_size=120), mutated([t.encode() for t in _TOKENS]).map(
    lambda b: b.decode("utf-8", "replace"))))
def _token_once(token: str) -> None:
    def body() -> None:
        principal = _STORE.verify(token)
        assert principal is None or token in _TOKENS

    check("api.token_verify", body)


def test_token_verify() -> None:
    rounds("api.token_verify", _token_once)
