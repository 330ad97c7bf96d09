"""A small file system only the node under test sees: tmpfs or a loop-mounted ext4 image (root only).

``unshare -m`` starts a holder process in a mount namespace of its own (private propagation, so
nothing leaks to the host) and mounts the file system there; the node runs inside that namespace
through ``nsenter``, and so do the commands that fill it, free it, or break it. When the holder and
the node exit, the namespace and its mount go away (a loop device with them: ``mount -o loop`` sets
autoclear).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from types import TracebackType

from kit import stop_process


class PrivateDisk:
    """``size_mb`` of ``kind`` (``tmpfs`` or ``ext4``) mounted at ``where`` in a private namespace."""

    def __init__(self, where: Path, *, size_mb: int, kind: str = "tmpfs") -> None:
        self.where = where
        self.size_mb = size_mb
        self.kind = kind
        self.image = where.with_suffix(".img")
        self.holder: subprocess.Popen[str] | None = None

    def __enter__(self) -> PrivateDisk:
        self.where.mkdir(parents=True, exist_ok=True)
        if self.kind == "ext4":
            with self.image.open("wb") as f:
                f.truncate(self.size_mb * 1024 * 1024)
            subprocess.run(["mkfs.ext4", "-q", "-F", str(self.image)], check=True, capture_output=True, timeout=30)
        script = f"{self._mount()} && echo mounted && exec sleep 900"
        self.holder = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.holder.stdout is not None
        line = self.holder.stdout.readline()
        assert line.strip() == "mounted", f"could not mount a {self.kind}: {line}"
        return self

    def _mount(self) -> str:
        if self.kind == "ext4":  # errors=remount-ro: what a kit's root file system does after an I/O error
            return f"mount -o loop,errors=remount-ro {self.image} {self.where}"
        return f"mount -t tmpfs -o size={self.size_mb}m tmpfs {self.where}"

    def __exit__(self, *exc: object | TracebackType) -> None:
        if self.holder is not None:
            stop_process(self.holder, timeout=5)

    @property
    def prefix(self) -> tuple[str, ...]:
        """Run a command inside the namespace: ``[*disk.prefix, command, ...]``.

        Entering a mount namespace moves the process to its root directory; ``--wd`` keeps this
        checkout's directory, so ``python -m edge.cli`` runs this checkout's code.
        """
        assert self.holder is not None
        return ("nsenter", "-t", str(self.holder.pid), "-m", f"--wd={os.getcwd()}", "--")

    def sh(self, script: str, check: bool = True) -> str:
        """Run a shell script inside the namespace; its output."""
        out = subprocess.run([*self.prefix, "sh", "-c", script], capture_output=True, text=True, timeout=60)
        if check and out.returncode != 0:
            raise AssertionError(f"{script}: {out.returncode} {out.stdout}{out.stderr}")
        return out.stdout

    def fill(self) -> None:
        """Fill the file system to the last block (dd stops at ENOSPC)."""
        self.sh(f"dd if=/dev/zero of={self.where}/filler bs=4k 2>/dev/null; sync", check=False)
        free = int(self.sh(f"df --output=avail -k {self.where} | tail -1").strip())
        assert free == 0, f"{free} kB still free"

    def free(self) -> None:
        """Give the space back."""
        self.sh(f"rm -f {self.where}/filler")

    def break_read_only(self) -> None:
        """Make ext4 report an error: with errors=remount-ro the kernel turns it read-only at once."""
        assert self.kind == "ext4"
        device = Path(self.sh(f"findmnt -no SOURCE {self.where}").strip()).name
        self.sh(f"echo 'fieldkit fault test' > /sys/fs/ext4/{device}/trigger_fs_error")
        assert self.read_only(), "the file system did not turn read-only"

    def read_only(self) -> bool:
        """Whether the file system refuses writes now."""
        return "Read-only" in self.sh(f"touch {self.where}/.probe 2>&1", check=False)

    def repair(self) -> None:
        """What an operator does (the node stopped): unmount, fsck, mount again."""
        assert self.kind == "ext4"
        self.sh(f"umount {self.where}")
        fsck = subprocess.run(["e2fsck", "-fy", str(self.image)], capture_output=True, text=True, timeout=60)
        assert fsck.returncode in (0, 1), fsck.stdout + fsck.stderr  # 1: errors corrected
        self.sh(self._mount())
