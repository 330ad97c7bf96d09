"""Framing descriptions shipped with fieldkit (TOML files; a package so that they are installed)."""
