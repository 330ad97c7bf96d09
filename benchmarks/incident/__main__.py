"""``python -m benchmarks.incident``: see ``run.py``."""

from benchmarks.incident.run import main

main()
