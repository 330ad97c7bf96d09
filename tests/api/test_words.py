"""Every word the page asks for (t("...") in its modules, data-i18n* in its HTML) has Simplified Chinese,
and every dotted key has English: the language switch leaves no English behind in what it covers."""

from __future__ import annotations

import json
import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "edge" / "api" / "static"


def dictionaries() -> dict[str, dict[str, str]]:
    text = (STATIC / "words.js").read_text(encoding="utf-8")
    blocks = dict(re.findall(r"^  (\w+): \{\n(.*?)^  \},", text, flags=re.M | re.S))
    return {lang: json.loads("{" + body.rstrip().rstrip(",") + "}") for lang, body in blocks.items()}


def asked_for() -> set[str]:
    keys: set[str] = set()
    for path in STATIC.glob("*.js"):
        code = path.read_text(encoding="utf-8")
        keys |= set(re.findall(r'\bt\("((?:[^"\\]|\\.)+)"', code))
        keys |= set(re.findall(r'"data-i18n(?:-title|-label|-placeholder)?": "([^"]+)"', code))
        if path.name in ("panels.js", "dronepanel.js"):  # detail rows: [label, value], the label through t()
            keys |= set(re.findall(r'\["([A-Z](?:[a-z][A-Za-z .]*|[A-Z]{1,2}))",', code))
    keys |= {"info", "warning", "emergency", "raised", "acknowledged", "cleared"}  # t(alert.severity), t(status)
    keys |= {"unit", "vehicle", "feed", "node", "marker"}  # t(e.kind)
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    keys |= set(re.findall(r'data-i18n(?:-title|-label|-placeholder)?="([^"]+)"', html))
    return keys


def test_every_word_asked_for_is_in_both_languages() -> None:
    words = dictionaries()
    assert set(words) == {"en", "zh"}
    asked = asked_for()
    assert len(asked) > 120  # the scan found the page's words
    assert sorted(k for k in asked if k not in words["zh"]) == []
    assert sorted(k for k in asked if re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", k) and k not in words["en"]) == []
    assert set(words["en"]) <= set(words["zh"])
    for key, zh in words["zh"].items():  # placeholders survive translation
        assert set(re.findall(r"\{\w+\}", zh)) == set(re.findall(r"\{\w+\}", words["en"].get(key, key))), key
