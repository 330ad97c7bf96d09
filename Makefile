# fieldkit: `make sim` runs a simulated incident, `make test` runs every test. Both set themselves up.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
BUNDLE  := dist/fieldkit-bundle-$(VERSION).tar.gz
DEB_TEST_PACKAGES := chromium fonts-wqy-microhei rtsp-server-perl ffmpeg systemd libnss3-tools iproute2

.PHONY: setup sim test lint bench soak fuzz faults deb-packages clean bundle check-wheels

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,lint]'
	# MAVProxy's full install pulls ~1 GB of GUI packages; its core (what the tests drive) needs none.
	$(PY) -m pip install --quiet --no-deps 'mavproxy==1.8.75'
	touch $(STAMP)

setup: $(STAMP)

sim: $(STAMP)
	$(VENV)/bin/fieldkit sim $(SIM_ARGS)

# Debian packages the tests drive (headless Chromium for the page tests; an RTSP server and ffmpeg as
# independent video peers); installed when root.
deb-packages:
	@missing=""; for p in $(DEB_TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "make test needs Debian packages:$$missing (run as root, or: sudo apt-get install$$missing)"; exit 1; fi; \
	fi

test: $(STAMP) deb-packages $(BUNDLE)
	$(PY) -m pytest $(PYTEST_ARGS)

# The offline bundle (edge/deploy/bundle.py): fieldkit's wheel and every dependency's, for CPython 3.11
# on x86_64 and aarch64, plus install.sh. Tests install it without any network, so make builds it first.
$(BUNDLE): $(STAMP) $(shell git ls-files edge drones mesh media sim 2>/dev/null)
	$(PY) -m edge.deploy.bundle build --out dist
bundle: $(BUNDLE)

# CI: every dependency has a binary wheel for aarch64 (and x86_64), resolved from metadata in seconds.
check-wheels: $(STAMP)
	$(PY) -m edge.deploy.bundle check

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# Every parser of outside bytes under libFuzzer (atheris), FUZZ_EXAMPLES inputs each, one process per
# target (benchmarks/fuzz.py; `make test` runs the same targets on 300 inputs each), then the API over
# HTTP and schemathesis with their own sizes; prints inputs, crashes, hangs and time per target and
# keeps logs, corpora and failing inputs in var/fuzz/. At 10^6 each: docs/PERFORMANCE.md, "Fuzzing at 10^6".
FUZZ_EXAMPLES ?= 1000000
fuzz: $(STAMP)
	$(PY) benchmarks/fuzz.py --examples $(FUZZ_EXAMPLES) $(FUZZ_ARGS)

# Every benchmark in benchmarks/ in sequence, the incident benchmark last, rewriting docs/PERFORMANCE.md
# (~25 min on 2 cores); BENCH_QUICK=1: their short options, docs left alone (~8 min).
bench: $(STAMP)
	$(PY) benchmarks/run_all.py $(if $(BENCH_QUICK),--quick)

# One hour at the full incident load (not in CI): RSS growth after warm-up, sampled every 30 s.
soak: $(STAMP)
	$(PY) -m benchmarks.incident --soak --write-doc $(SOAK_ARGS)

# The fault campaign (tests/faults) with full counts: SIGKILL, partitions, link flaps, a full or
# read-only journal disk; prints lost/duplicated/recovery times and writes docs/PERFORMANCE.md.
# `make test` runs the same tests with 3 cycles each. Mounts and network namespaces need root.
FAULT_CYCLES ?= 100
faults: $(STAMP) deb-packages
	$(PY) benchmarks/faults.py --cycles $(FAULT_CYCLES) --write-doc

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
