"""docs/PERFORMANCE.md, written by the benchmarks: one ``## `` section each, replaced in place."""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "PERFORMANCE.md"


def replace_section(title: str, text: str) -> None:
    """Put ``text`` (starting with ``title``, a ``## `` heading) where that section is, or at the end."""
    doc = DOC.read_text(encoding="utf-8")
    start = doc.find("\n" + title + "\n")
    if start < 0:
        doc = doc.rstrip("\n") + "\n\n" + text
    else:
        end = doc.find("\n## ", start + 1)
        doc = doc[: start + 1] + text.rstrip("\n") + ("\n\n" + doc[end + 1 :] if end >= 0 else "")
    DOC.write_text(doc.rstrip("\n") + "\n", encoding="utf-8")
