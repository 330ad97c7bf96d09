"""``make fuzz``: every byte target of tests/fuzz under libFuzzer (atheris), 10^6 inputs each, then the API over HTTP.

Each target runs in its own process (``python -m fuzz.libfuzzer TARGET``: atheris owns the process), one
after another, bounded by ``-runs`` (the input count) and ``-max_total_time`` (a safety), with its log,
corpus and any failing inputs under ``var/fuzz/<target>/``. A failure does not stop a target: each
distinct one is saved once and counted (see tests/fuzz/libfuzzer.py); a hang past the per-input CPU
watchdog is a hang, and one libFuzzer's ``-timeout`` had to end (stuck in C) is one too. The HTTP
targets (a real ``fieldkit run`` process: JSON bodies, and schemathesis over the OpenAPI document) are
pytest tests with their own size (``--http-examples``). At the end a table per target: inputs,
crashes, hangs, seconds, inputs/s; ``--write-doc`` puts it into docs/PERFORMANCE.md.

    .venv/bin/python benchmarks/fuzz.py --examples 1000000 --write-doc
    .venv/bin/python benchmarks/fuzz.py --examples 20000 radio.nmea tak   # names or prefixes
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.perfdoc import replace_section  # noqa: E402

SECTION = "## Fuzzing at 10^6: every byte target under atheris (libFuzzer)"
OUT = REPO / "var" / "fuzz"
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}


@dataclass
class Result:
    """What one target's run came to."""

    target: str
    inputs: int = 0
    crashes: int = 0
    hangs: int = 0
    seconds: float = 0.0
    how: str = "atheris"
    findings: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.inputs / self.seconds if self.seconds else 0.0


def targets() -> list[str]:
    listing = subprocess.run([sys.executable, "-m", "fuzz.libfuzzer", "--list"], cwd=REPO, env=ENV,
                             capture_output=True, text=True, check=True)
    return listing.stdout.split()


def _ended_by_libfuzzer(log: str) -> str | None:
    """Why libFuzzer itself ended a run (a timeout in C, a deadly signal, out of memory), if it did."""
    found = re.search(r"ERROR: libFuzzer: ([\w -]+)", log)
    return found.group(1).strip() if found else None


def run_target(name: str, examples: int, max_time: int, timeout: int, out: Path = OUT) -> Result:
    """One target in its own process, to ``examples`` inputs or ``max_time`` seconds; files in ``out/name``."""
    folder = out / name
    corpus, scratch = folder / "corpus", folder / "scratch"
    for path in (corpus, scratch):
        path.mkdir(parents=True, exist_ok=True)
    (folder / "findings.jsonl").unlink(missing_ok=True)
    args = [sys.executable, "-m", "fuzz.libfuzzer", name, f"-runs={examples}", f"-max_total_time={max_time}",
            f"-timeout={timeout}", "-rss_limit_mb=3072", f"-artifact_prefix={folder}/", "-print_final_stats=1",
            str(corpus)]
    started = time.monotonic()
    with (folder / "libfuzzer.log").open("w") as log:
        env = {**ENV, "FUZZ_SCRATCH": str(scratch), "FUZZ_FINDINGS": str(folder)}
        proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    result = Result(name, seconds=time.monotonic() - started)
    shutil.rmtree(scratch, ignore_errors=True)
    text = (folder / "libfuzzer.log").read_text(errors="replace")
    executed = re.findall(r"stat::number_of_executed_units: (\d+)", text) or re.findall(r"^#(\d+)\s", text, re.M)
    result.inputs = int(executed[-1]) if executed else 0
    findings_file = folder / "findings.jsonl"
    for line in findings_file.read_text().splitlines() if findings_file.exists() else []:
        finding = json.loads(line)
        result.hangs += finding["kind"] == "hang"
        result.crashes += finding["kind"] == "crash"
        result.findings.append(f"{finding['kind']}: {finding['signature']} ({finding['input']})")
    ended = _ended_by_libfuzzer(text)
    if ended:
        artifact = re.findall(r"Test unit written to (\S+)", text)
        result.hangs += "timeout" in ended
        result.crashes += "timeout" not in ended
        result.findings.append(f"libFuzzer: {ended} ({artifact[-1] if artifact else 'no input saved'})")
    elif proc.returncode != 0 and not result.findings:
        result.crashes += 1
        result.findings.append(f"the process ended with {proc.returncode}: see {folder / 'libfuzzer.log'}")
    return result


def run_http(examples: int) -> list[Result]:
    """The API over HTTP (JSON bodies) and schemathesis: pytest, ``examples`` requests for the first."""
    env = {**ENV, "FUZZ_EXAMPLES": str(examples), "FUZZ_RANDOM": "1"}
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "timeout=0",
            "tests/fuzz/test_api.py", "-k", "json_bodies or schemathesis"]
    out = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    (OUT / "http.log").write_text(out.stdout + out.stderr)
    results = []
    for found in re.finditer(r"^(api\.\w+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+\d+$", out.stdout, re.M):
        name, inputs, crashes, hangs, seconds = found.groups()
        results.append(Result(name, int(inputs), int(crashes), int(hangs), float(seconds), how="HTTP"))
    if out.returncode != 0:
        failed = [r for r in results if r.crashes or r.hangs] or [Result("api.http", how="HTTP")]
        failed[0].findings.append(f"pytest failed: see {OUT / 'http.log'}")
        failed[0].crashes = failed[0].crashes or 1
        results += [] if failed[0] in results else failed
    return results


def table(results: list[Result]) -> list[str]:
    lines = ["| target | run by | inputs | crashes | hangs | seconds | inputs/s |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| `{r.target}` | {r.how} | {r.inputs:,} | {r.crashes} | {r.hangs} | {r.seconds:,.0f} "
                     f"| {r.rate:,.0f} |")
    return lines


def saved_results(since: dt.datetime) -> tuple[list[Result], dt.datetime]:
    """The latest result per target in ``var/fuzz/results.jsonl`` from runs started at ``since`` or later."""
    latest: dict[str, tuple[dt.datetime, Result]] = {}
    rows = [json.loads(line) for line in (OUT / "results.jsonl").read_text().splitlines()]
    for row in sorted(rows, key=lambda row: str(row["at"])):  # by when each run started (ISO, all UTC)
        at = dt.datetime.fromisoformat(row.pop("at"))
        if at < since:
            continue
        goes_on = row.pop("continues", False)
        if goes_on and row["target"] in latest:  # more inputs from the same corpus: one run in two parts
            earlier = latest[row["target"]][1]
            for name in ("inputs", "crashes", "hangs", "seconds"):
                setattr(earlier, name, getattr(earlier, name) + row[name])
            earlier.how, earlier.findings = f"{earlier.how} (2 parts)", earlier.findings + row["findings"]
        elif row["target"] not in latest or latest[row["target"]][0] <= at:
            latest[row["target"]] = at, Result(**row)  # a run started later (a re-run after a fix) wins
    first = min((at for at, _ in latest.values()), default=since)
    return sorted((r for _, r in latest.values()), key=lambda r: (not r.how.startswith("atheris"), r.target)), first


def write_doc(results: list[Result], command: str, started: dt.datetime, loads: list[float]) -> None:
    ended = dt.datetime.now(dt.UTC)
    text = "\n".join([
        SECTION,
        "",
        f"Command: `{command}` ({started:%Y-%m-%d %H:%M}-{ended:%H:%M} UTC; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, atheris 3.0.0; load average "
        f"{min(loads):.1f}-{max(loads):.1f}: the 2 cores were shared with other work, so rates are a floor).",
        "Each target in its own process under libFuzzer, coverage-guided over the code under test (`edge`,",
        "`drones`, `mesh`, `media` instrumented), every input under the 2-second CPU watchdog; inputs/s is",
        "the whole process's rate including start-up; \"2 parts\": a second run from the first one's corpus.",
        "\"run by HTTP\": pytest against a `fieldkit run` process.",
        "",
        *table(results),
        "",
    ])
    findings = [f"- `{r.target}`: {f}" for r in results for f in r.findings]
    if findings:
        text += "\nFindings of this run (inputs under `var/fuzz/<target>/`):\n\n" + "\n".join(findings) + "\n"
    replace_section(SECTION, text)


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # through run_target's ``finally``, which ends the target's process


def main() -> None:
    signal.signal(signal.SIGTERM, _stop)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("select", nargs="*", help="target names or prefixes (default: all)")
    parser.add_argument("--examples", type=int, default=int(os.environ.get("FUZZ_EXAMPLES", "1000000")))
    parser.add_argument("--max-time", type=int, default=3 * 3600, help="seconds per target at most (a safety)")
    parser.add_argument("--deadline", type=dt.datetime.fromisoformat,
                        help="finish by then (ISO time with zone): each target gets an equal share of what is left")
    parser.add_argument("--timeout", type=int, default=30, help="libFuzzer's -timeout: seconds for one input")
    parser.add_argument("--http-examples", type=int, default=10_000, help="requests of the HTTP JSON target")
    parser.add_argument("--no-http", action="store_true", help="only the byte targets")
    parser.add_argument("--continues", action="store_true",
                        help="more inputs for targets a run stopped short (--doc-from adds them to that run)")
    parser.add_argument("--http-only", action="store_true", help="only the API over HTTP and schemathesis")
    parser.add_argument("--write-doc", action="store_true", help="replace the section in docs/PERFORMANCE.md")
    parser.add_argument("--doc-from", type=dt.datetime.fromisoformat, metavar="ISO_TIME",
                        help="run nothing: write the doc from var/fuzz/results.jsonl (runs started since then)")
    parser.add_argument("--command", default="", help="with --doc-from: the command(s) the runs were")
    parser.add_argument("--load", type=float, nargs=2, default=None, help="with --doc-from: load average seen")
    args = parser.parse_args()
    if args.doc_from:
        results, first = saved_results(args.doc_from)
        write_doc(results, args.command, first, args.load or [os.getloadavg()[0]])
        print("\n".join(table(results)))
        return
    known = [] if args.http_only else targets()
    names = [n for s in args.select or [""] for n in known if n == s or n.startswith(s)]
    names = [] if args.http_only else list(dict.fromkeys(names))  # in the order asked, each once
    started, loads, results = dt.datetime.now(dt.UTC), [os.getloadavg()[0]], []
    for done, name in enumerate(names):
        max_time, left = args.max_time, len(names) - done
        if args.deadline:  # an equal share of the time left for each target left; a fast one leaves its share
            max_time = min(max_time, max(60, int((args.deadline - dt.datetime.now(dt.UTC)).total_seconds() / left)))
        print(f"fuzz: {name}, {args.examples:,} inputs (at most {max_time} s) ...", flush=True)
        results.append(run_target(name, args.examples, max_time, args.timeout))
        loads.append(os.getloadavg()[0])
        r = results[-1]
        print(f"  {r.inputs:,} inputs, {r.crashes} crashes, {r.hangs} hangs, {r.seconds:.0f} s, {r.rate:.0f}/s",
              flush=True)
        for finding in r.findings:
            print(f"  {finding}", flush=True)
    if args.http_only or (not args.no_http and not args.select):
        print(f"fuzz: the API over HTTP ({args.http_examples:,} JSON bodies) and schemathesis ...", flush=True)
        results += run_http(args.http_examples)
    with (OUT / "results.jsonl").open("a") as out:
        for r in results:
            out.write(json.dumps({**asdict(r), "at": started.isoformat(), "continues": args.continues}) + "\n")
    print("\n".join(table(results)))
    if args.write_doc:
        write_doc(results, "benchmarks/fuzz.py " + " ".join(sys.argv[1:]), started, loads)
    sys.exit(1 if any(r.crashes or r.hangs for r in results) else 0)


if __name__ == "__main__":
    main()
