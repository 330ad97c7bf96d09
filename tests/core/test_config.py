"""Configuration: every problem reported with its key path; the reference stays in step with the code."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import Config, ConfigError, load, markdown, parse

ROOT = Path(__file__).resolve().parents[2]


def test_empty_file_gives_every_default() -> None:
    assert parse("") == Config()
    assert Config().api.host == "127.0.0.1", "loopback unless configured"


def test_every_problem_is_reported_with_its_key_path() -> None:
    text = """
[node]
id = "has spaces"
lat = 95.0

[api]
port = "eighty"
prot = 8080

[journal]
synchronous = "SOMETIMES"

[video]
x = 1
"""
    with pytest.raises(ConfigError) as err:
        parse(text, "kit.toml")
    assert err.value.problems == [
        "node.id: expected text matching regex '^[A-Za-z0-9._-]{1,40}$' (got 'has spaces')",
        "node.lat: expected a number <= 90.0 (got 95.0)",
        "api.port: expected a whole number, got text (got 'eighty')",
        "api.prot: unknown option (known here: basemaps, host, max_body_bytes, max_ws_clients, mbtiles, "
        "metrics_public, port, "
        "tls_cert, tls_key, "
        "tokens_file)",
        "journal.synchronous: must be one of FULL, NORMAL (got 'SOMETIMES')",
        "video: unknown option (known here: api, drones, journal, media, mesh, node, radio, scene, tak)",
    ]


def test_semantic_problems_are_reported_too() -> None:
    with pytest.raises(ConfigError) as err:
        parse('[api]\nhost = "localhost"\n[node]\nlat = 36.7\n')
    assert err.value.problems == [
        "api.host: 'localhost' is not an IP address (use 127.0.0.1, ::1 or an interface address)",
        "node.lat / node.lon: give both or neither",
    ]


def test_toml_syntax_error_is_plain() -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse("[api\nport=1")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "missing.toml")


def test_reference_document_is_current() -> None:
    assert (ROOT / "docs" / "CONFIG.md").read_text(encoding="utf-8") == markdown(), (
        "docs/CONFIG.md is stale: regenerate with `fieldkit config doc > docs/CONFIG.md`"
    )


def test_every_option_is_described() -> None:
    rows = [line for line in markdown().splitlines() if line.startswith("| `")]
    assert len(rows) >= 20
    assert all(not line.rstrip().endswith("|  |") for line in rows)
