"""The offline bundle: its x86_64 part installs into a fresh venv with pip --no-index and no network at all,
and `fieldkit sim` runs from it. The bundle itself is built by `make bundle` (which `make test` runs):
tests touch only loopback, so they never download."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from edge import __version__
from edge.deploy.bundle import ARCHES, platform_args

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "dist" / f"fieldkit-bundle-{__version__}.tar.gz"


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert BUNDLE.is_file(), f"{BUNDLE} is missing: run `make bundle` (`make test` does)"
    folder = tmp_path_factory.mktemp("bundle")
    with tarfile.open(BUNDLE) as tar:
        tar.extractall(folder, filter="data")
    return folder / f"fieldkit-bundle-{__version__}"


def test_the_bundle_holds_binary_wheels_for_both_architectures(unpacked: Path) -> None:
    for arch in ARCHES:
        wheels = sorted(p.name for p in (unpacked / "wheels" / arch).glob("*.whl"))
        assert any(w.startswith("pip-") for w in wheels)
        native = [w for w in wheels if not w.endswith("-none-any.whl")]
        assert native and all(arch in w for w in native), f"{arch}: {native}"
        assert not list((unpacked / "wheels" / arch).glob("*.tar.gz")), "no source distributions"
    projects = {arch: {w.name.split("-")[0].lower() for w in (unpacked / "wheels" / arch).glob("*.whl")}
                for arch in ARCHES}
    assert projects["aarch64"] == projects["x86_64"], "an ARM kit gets every dependency an x86 kit gets"
    assert {"eclipse_zenoh", "av", "numpy", "cryptography", "msgspec"} <= projects["aarch64"]
    own = [p.name for p in (unpacked / "wheels" / "fieldkit").iterdir()]
    assert own == [f"fieldkit-{__version__}-py3-none-any.whl"]


def test_platform_tags_reach_back_to_manylinux2014() -> None:
    args = platform_args("aarch64")
    assert args[:2] == ["--platform", "manylinux_2_36_aarch64"]
    assert "manylinux_2_17_aarch64" in args and "manylinux2014_aarch64" in args and "--only-binary=:all:" in args


def run_offline(argv: list[str], env: dict[str, str], timeout: float, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run with no network at all (a fresh network namespace) when root may make one, away from the source tree."""
    offline = ["unshare", "--net", "--"] if os.geteuid() == 0 and shutil.which("unshare") else []
    return subprocess.run([*offline, *argv], capture_output=True, text=True, env=env, timeout=timeout, cwd=cwd)


def test_installs_with_no_index_and_runs_the_sim(unpacked: Path, tmp_path: Path) -> None:
    prefix = tmp_path / "opt-fieldkit"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PREFIX": str(prefix), "LANG": "C.UTF-8",
           "PIP_FIND_LINKS": "/nonexistent", "PIP_INDEX_URL": "http://127.0.0.1:9/simple"}  # must be ignored
    installed = run_offline(["sh", str(unpacked / "install.sh")], env, 600, tmp_path)
    assert installed.returncode == 0, installed.stderr
    assert installed.stdout.splitlines()[-2:] == [
        f"fieldkit {__version__}",
        f"install.sh: installed in {prefix}. Next: sudo {prefix}/bin/fieldkit service install",
    ]
    fieldkit = prefix / "bin" / "fieldkit"
    site = subprocess.run([str(prefix / "bin" / "python"), "-c", "import edge; print(edge.__file__)"],
                          capture_output=True, text=True, check=True, env=env, cwd=tmp_path)
    assert site.stdout.startswith(str(prefix)), "fieldkit came from the bundle, not the source tree"

    sim = run_offline([str(fieldkit), "sim", "--duration", "4", "--port", "0", "--no-browser-hint"], env, 120, tmp_path)
    assert sim.returncode == 0, sim.stderr
    assert re.search(r"fieldkit: node sim-kit serving http://127\.0\.0\.1:\d+/", sim.stdout), sim.stdout
