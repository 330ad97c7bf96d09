"""IP cameras for the incident: each an ffmpeg process sending H.264 in MPEG-TS over UDP to the edge.

A kit's cameras are IP cameras and drone video downlinks: the picture is encoded in the camera and
the node only demuxes and relays it (``source = "mpegts"``, pass-through). Running them as ffmpeg
processes puts the encoding where it happens in the field, outside the node, while the node does
what it does there. ``--cameras sim`` keeps the sim cameras inside the node instead (rendered and
encoded by the node, as for a USB camera), which is the heavier case and is reported beside it.
"""

from __future__ import annotations

import subprocess

# The sim camera's profile (640x360, 15 fps, 800 kbit/s, a keyframe every 2 s), from a moving test pattern.
FFMPEG = [
    "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
    "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=15",
    "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-pix_fmt", "yuv420p",
    "-b:v", "800k", "-maxrate", "800k", "-bufsize", "800k",
]  # fmt: skip


def start(ports: list[int]) -> list[subprocess.Popen[bytes]]:
    """One camera per port, each sending to udp://127.0.0.1:<port>."""
    return [subprocess.Popen([*FFMPEG, "-f", "mpegts", f"udp://127.0.0.1:{port}?pkt_size=1316"]) for port in ports]


def stop(cameras: list[subprocess.Popen[bytes]]) -> None:
    for camera in cameras:
        if camera.poll() is None:
            camera.terminate()
    for camera in cameras:
        try:
            camera.wait(10)
        except subprocess.TimeoutExpired:
            camera.kill()
            camera.wait()
