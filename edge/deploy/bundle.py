"""The offline bundle: fieldkit's wheel and every dependency's wheel for CPython 3.11 on x86_64 and aarch64.

A kit at a scene has no internet, so it is installed in advance (or on site from a USB stick) from
one archive: ``install.sh`` makes a virtual environment with ``pip install --no-index`` from the
wheels for the machine's architecture. Only binary wheels are taken (``--only-binary=:all:``): a
dependency without one would need a compiler on the kit. Versions are pinned to the ones installed
where the bundle is built, i.e. the ones the tests ran with.

``python -m edge.deploy.bundle check`` resolves the dependencies for each architecture from package
metadata only (pip's resolver, ``--dry-run``), so CI can fail on a new dependency that has no
aarch64 wheel in seconds rather than after downloading hundreds of megabytes.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from edge import __version__

PYTHON = "3.11"
# glibc 2.36 is Debian 12's (and Raspberry Pi OS bookworm's); pip takes exactly the tags it is given.
GLIBC_MINORS = range(36, 16, -1)
ARCHES = ("x86_64", "aarch64")
ROOT = Path(__file__).resolve().parents[2]
INSTALL_SH = Path(__file__).with_name("install.sh")


class BundleError(Exception):
    """The bundle cannot be made; the message names what is missing."""


def platform_args(arch: str) -> list[str]:
    """pip's target-platform options for CPython 3.11 manylinux on ``arch``."""
    tags = [f"manylinux_2_{minor}_{arch}" for minor in GLIBC_MINORS] + [f"manylinux2014_{arch}"]
    return [*(a for t in tags for a in ("--platform", t)), "--python-version", PYTHON, "--implementation", "cp",
            "--abi", f"cp{PYTHON.replace('.', '')}", "--only-binary=:all:"]


def _pip(*args: str, quiet: bool = True) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "pip", *(["--quiet"] if quiet else []), *args]
    return subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603 - our own arguments


def constraints(folder: Path) -> Path:
    """Pin every dependency to the version installed here (what the tests ran with)."""
    pins = sorted({f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions()
                   if d.metadata["Name"] and d.metadata["Name"].lower() != "fieldkit"})
    path = folder / "constraints.txt"
    path.write_text("\n".join(pins) + "\n", encoding="utf-8")
    return path


def _missing(stderr: str) -> str:
    found = re.findall(r"No matching distribution found for (\S+)", stderr)
    return ", ".join(found) if found else stderr.strip().splitlines()[-1] if stderr.strip() else "unknown"


def check(arch: str, project: Path = ROOT) -> list[str]:
    """Resolve fieldkit's dependencies for ``arch`` from metadata only; the ``name==version`` list."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        out = _pip("install", "--dry-run", "--ignore-installed", "--target", str(Path(tmp) / "t"), "--report",
                   str(report), "-c", str(constraints(Path(tmp))), *platform_args(arch), str(project))
        if out.returncode != 0:
            raise BundleError(f"{arch}: no binary wheel for CPython {PYTHON}: {_missing(out.stderr)}")
        installs = json.loads(report.read_text())["install"]
    return [f"{i['metadata']['name']}=={i['metadata']['version']}" for i in installs]


def build(out_dir: Path, arches: tuple[str, ...] = ARCHES, project: Path = ROOT) -> Path:
    """Make ``fieldkit-bundle-<version>.tar.gz`` in ``out_dir``; returns its path."""
    name = f"fieldkit-bundle-{__version__}"
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp) / name
        own = stage / "wheels" / "fieldkit"
        done = _pip("wheel", "--no-deps", "--wheel-dir", str(own), str(project))
        if done.returncode != 0:
            raise BundleError(f"building fieldkit's wheel failed: {done.stderr.strip()}")
        [wheel] = own.glob("fieldkit-*.whl")
        pins = constraints(Path(tmp))
        for arch in arches:
            got = _pip("download", "--dest", str(stage / "wheels" / arch), "-c", str(pins), *platform_args(arch),
                       str(wheel), "pip")
            if got.returncode != 0:
                raise BundleError(f"{arch}: no binary wheel for CPython {PYTHON}: {_missing(got.stderr)}")
        shutil.copy(INSTALL_SH, stage / "install.sh")
        (stage / "install.sh").chmod(0o755)
        _checksums(stage)
        out_dir.mkdir(parents=True, exist_ok=True)
        archive = out_dir / f"{name}.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(stage, arcname=name)
    return archive


def _checksums(stage: Path) -> None:
    lines = []
    for path in sorted(p for p in stage.rglob("*") if p.is_file()):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        lines.append(f"{digest}  {path.relative_to(stage)}")
    (stage / "SHA256SUMS").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """``python -m edge.deploy.bundle check|build``."""
    p = argparse.ArgumentParser(prog="python -m edge.deploy.bundle", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="every dependency has a binary wheel for each architecture (metadata only)")
    c.add_argument("--arch", action="append", choices=ARCHES, help="default: all")
    b = sub.add_parser("build", help="download the wheels and write the archive")
    b.add_argument("--out", type=Path, default=Path("dist"))
    b.add_argument("--arch", action="append", choices=ARCHES, help="default: all")
    args = p.parse_args(argv)
    arches = tuple(args.arch or ARCHES)
    os.environ.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    try:
        if args.command == "check":
            for arch in arches:
                print(f"{arch}: {len(check(arch))} distributions, every one a binary wheel")
        else:
            archive = build(args.out, arches)
            print(f"{archive} ({archive.stat().st_size / 1e6:.0f} MB)")
    except BundleError as exc:
        print(f"bundle: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
