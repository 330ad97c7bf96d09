"""The incident benchmark: one edge node under a whole incident's load, latency from wire to WebSocket.

Run ``.venv/bin/python -m benchmarks.incident [--scale 0.2] [--duration S] [--write-doc]`` from the
repository root; ``--soak`` samples RSS every 30 s instead (``make soak``). See ``run.py``.
"""
