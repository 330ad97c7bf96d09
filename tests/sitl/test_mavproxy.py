"""MAVProxy 1.8 (a real ground station, in a subprocess) against the SITL served from this process.

MAVProxy asks for parameters over MAVFTP first; our SITL refuses with a NAK, so MAVProxy falls back
to PARAM_REQUEST_LIST at once. Without the NAK it retries the FTP open for about 11 s and prints
"FTP: request timed out" before falling back (seen here: a dozen FILE_TRANSFER_PROTOCOL messages).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from sim.clock import SimClock
from sim.sitl import Mode, SitlEndpoint, Vehicle, VehicleConfig

DEADLINE_S = 60.0  # a bound on a hung peer, not a speed assertion


@dataclass
class MavProxy:
    proc: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)

    async def read_until(self, done: Callable[[], bool]) -> None:
        """Collect output lines until ``done()`` (bounded)."""
        assert self.proc.stdout is not None
        deadline = asyncio.get_running_loop().time() + DEADLINE_S
        while not done():
            assert asyncio.get_running_loop().time() < deadline, f"gave up; MAVProxy said: {self.lines[-30:]}"
            try:  # short waits, so a condition on the vehicle is seen without a new line of output
                raw = await asyncio.wait_for(self.proc.stdout.readline(), 0.2)
            except TimeoutError:
                continue
            assert raw, f"MAVProxy exited: {self.lines[-30:]}"
            self.lines.append(raw.decode(errors="replace").strip())

    def saw(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    async def command(self, text: str, done: Callable[[], bool]) -> None:
        """Type a command at MAVProxy's prompt and wait until it took effect."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{text}\n".encode())
        await self.proc.stdin.drain()
        await self.read_until(done)


@contextlib.asynccontextmanager
async def mavproxy(tmp_path: Path, port: int, env: dict[str, str], *args: str) -> AsyncIterator[MavProxy]:
    proc = await asyncio.create_subprocess_exec(
        "mavproxy.py", f"--master=udp:127.0.0.1:{port}", f"--state-basedir={tmp_path}", *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path, env=env,
    )  # fmt: skip
    try:
        yield MavProxy(proc)
    finally:
        if proc.stdin is not None:
            proc.stdin.close()  # MAVProxy's input thread ends on EOF; SIGTERM alone leaves it reading
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def params_loaded(mp: MavProxy) -> Callable[[], bool]:
    return lambda: any(line.startswith("Received") and "parameters" in line for line in mp.lines)


async def test_mavproxy_loads_all_parameters_without_waiting_for_mavftp(
    tmp_path: Path, udp_port: int, env: dict[str, str]
) -> None:
    clock = SimClock()
    vehicle = Vehicle(VehicleConfig(sysid=1), clock())
    async with SitlEndpoint([vehicle], clock) as endpoint:
        await endpoint.start(udp_out=[("127.0.0.1", udp_port)])
        async with mavproxy(tmp_path, udp_port, env, "--daemon", "--non-interactive", "--cmd=set heartbeat 1") as mp:
            await mp.read_until(params_loaded(mp))
    output = "\n".join(mp.lines)
    assert "Detected vehicle 1:1" in output
    assert f"Received {len(vehicle.params)} parameters" in output, output
    assert "(ftp)" not in output and "FTP: request timed out" not in output
    history = list(vehicle.history)
    first_list = history.index("PARAM_REQUEST_LIST")
    ftp_before = history[:first_list].count("FILE_TRANSFER_PROTOCOL")
    assert 1 <= ftp_before <= 2, history[: first_list + 1]  # the open (and its session close), no retries
    saved = (tmp_path / "mav.parm").read_text()
    assert any(line.split()[:2] == ["WPNAV_SPEED", "500.000000"] for line in saved.splitlines()), saved[:500]


async def test_mavproxy_pilot_commands_are_acknowledged_and_flown(
    tmp_path: Path, udp_port: int, env: dict[str, str]
) -> None:
    clock = SimClock(speedup=3)
    vehicle = Vehicle(VehicleConfig(sysid=1), clock())
    async with SitlEndpoint([vehicle], clock) as endpoint:
        await endpoint.start(udp_out=[("127.0.0.1", udp_port)])
        async with mavproxy(tmp_path, udp_port, env) as mp:
            await mp.read_until(params_loaded(mp))
            await mp.command("mode GUIDED", lambda: mp.saw("DO_SET_MODE: ACCEPTED"))
            await mp.command("arm throttle", lambda: mp.saw("COMPONENT_ARM_DISARM: ACCEPTED"))
            await mp.command("takeoff 12", lambda: mp.saw("NAV_TAKEOFF: ACCEPTED"))
            await mp.read_until(lambda: vehicle.alt_rel_m > 11.5)
            await mp.command("param set WPNAV_SPEED 700", lambda: vehicle.params["WPNAV_SPEED"] == 700)
            await mp.command("rtl", lambda: vehicle.mode is Mode.RTL and mp.saw("Mode RTL"))
            assert vehicle.armed
    assert mp.saw("ARMED") and mp.saw("AP: Arming motors")
