"""What the sim camera sees: a synthetic aerial view drawn with OpenCV, cheap enough for a kit's CPU.

A ground texture (fields, roads, buildings) is drawn once at twice the frame size; each frame crops
it at a slowly drifting offset (the drone's motion, which gives the encoder real work), then draws
vehicles and people moving along their paths, the capture time and frame counter as text, and the
machine-readable stamp strip (:mod:`media.stamp`). The thermal variant renders the same scene as
heat: a dark background, warm people and vehicles, and a fire — a hot spot that grows and flickers,
which the hotspot analysis (:mod:`media.analysis`) finds.
"""

from __future__ import annotations

import math
import time

import cv2
import numpy as np

from media import stamp
from media.stamp import Image


class Scenery:
    """Renders frame ``n`` at time ``t``; deterministic for a seed."""

    def __init__(self, width: int, height: int, *, thermal: bool = False, seed: int = 1, label: str = "") -> None:
        self.width, self.height, self.thermal, self.label = width, height, thermal, label
        rng = np.random.default_rng(seed)
        self._ground = self._draw_ground(rng, width * 2, height * 2)
        self._movers = [
            (rng.uniform(0, 2 * math.pi), rng.uniform(0.05, 0.25), rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), i % 3)
            for i in range(12)
        ]

    def _draw_ground(self, rng: np.random.Generator, w: int, h: int) -> Image:
        if self.thermal:
            ground = rng.integers(25, 60, (h // 8, w // 8), dtype=np.uint8)
            ground = np.asarray(cv2.resize(ground, (w, h), interpolation=cv2.INTER_LINEAR), dtype=np.uint8)
            for _ in range(20):  # sun-warmed roofs
                x, y = int(rng.integers(0, w - 60)), int(rng.integers(0, h - 60))
                cv2.rectangle(ground, (x, y), (x + int(rng.integers(20, 60)), y + int(rng.integers(20, 60))), 90, -1)
            return np.asarray(cv2.cvtColor(ground, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
        ground = np.zeros((h, w, 3), np.uint8)
        tiles = rng.integers(0, 3, (h // 40 + 1, w // 40 + 1))
        colours = [(60, 110, 70), (70, 130, 110), (50, 90, 60)]
        for (ty, tx), kind in np.ndenumerate(tiles):
            cv2.rectangle(ground, (tx * 40, ty * 40), (tx * 40 + 39, ty * 40 + 39), colours[int(kind)], -1)
        for x in range(0, w, 160):  # roads
            cv2.line(ground, (x, 0), (x, h), (90, 90, 90), 10)
        for y in range(0, h, 120):
            cv2.line(ground, (0, y), (w, y), (90, 90, 90), 10)
        for _ in range(30):  # buildings
            x, y = int(rng.integers(0, w - 50)), int(rng.integers(0, h - 50))
            cv2.rectangle(
                ground, (x, y), (x + int(rng.integers(15, 45)), y + int(rng.integers(15, 45))), (150, 150, 160), -1
            )
        return ground

    def render(self, n: int, t: float, captured: float | None = None) -> Image:
        """The picture at frame ``n``, ``t`` seconds into the flight, stamped with ``captured`` (wall clock)."""
        w, h = self.width, self.height
        ox = int((math.sin(t * 0.05) * 0.5 + 0.5) * w)
        oy = int((math.cos(t * 0.04) * 0.5 + 0.5) * h)
        image = self._ground[oy : oy + h, ox : ox + w].copy()
        for phase, speed, cx, cy, kind in self._movers:
            a = phase + t * speed
            x = int((cx + 0.3 * math.cos(a)) * w)
            y = int((cy + 0.3 * math.sin(a)) * h)
            if kind == 0:  # a vehicle
                colour = (200, 200, 200) if self.thermal else (30, 30, 200)
                cv2.rectangle(image, (x - 9, y - 5), (x + 9, y + 5), colour, -1)
            else:  # a person
                colour = (170, 170, 170) if self.thermal else (0, 200, 255)
                cv2.circle(image, (x, y), 3, colour, -1)
        if self.thermal:
            radius = int(h * (0.05 + 0.02 * math.sin(t * 3.0)) + min(t, 60) * 0.3)
            cv2.circle(image, (int(w * 0.62), int(h * 0.58)), radius, (255, 255, 255), -1)
        wall = captured if captured is not None else time.time()
        text = time.strftime("%H:%M:%S", time.gmtime(wall)) + f".{int(wall * 1000) % 1000:03d}Z  #{n}  {self.label}"
        cv2.putText(image, text, (8, h - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        stamp.burn(image, int(wall * 1000), n)
        return image
