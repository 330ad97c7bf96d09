"""Mesh test fixtures; the helpers live in meshkit.py beside this file (made importable here)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from meshkit import net  # noqa: F401  (the fixture)
