"""Opt-in OpenCV analysis of a feed's decoded keyframes: hot spots on thermal video, and motion.

Both work on the pictures of the feed's one :class:`~media.keyframes.KeyframeDecoder` (so analysis
adds no decoder, and nothing per viewer), in its thread. Cameras burn overlays into the picture (the
sim's stamp strip and clock, a drone's OSD), which change every frame and can be white-hot:
``ignore`` rectangles (in picture pixels) are left out of both analyses.

- :func:`find_hotspots`: threshold the grey picture (a thermal camera's hot is bright), take the
  outer contours, keep those of at least ``min_area_px``; each gives its centroid and area, which
  :func:`~media.geo.image_to_ground` turns into a place for an alert.
- :class:`MotionDetector`: differences consecutive pictures after cancelling the camera's own
  movement, which on a drone moves the whole picture: the translation between the two is measured by
  phase correlation (overlays blanked first: being fixed and sharp, they would pin it at zero) and
  the older picture shifted to match before differencing. The difference is taken per colour channel
  (a red car on green grass differs in hue far more than in brightness). What still differs above a
  threshold, in blobs of at least ``min_area_px``, is motion, reported as one bounding box.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from media import stamp
from media.keyframes import Image, KeyframeDecoder

Rect = tuple[int, int, int, int]  # x, y, width, height in picture pixels
WORK_WIDTH = 320  # motion is found on a picture this wide: cheap, and blind to compression noise


@dataclass(frozen=True, slots=True)
class Hotspot:
    """A hot blob: centroid and area in picture pixels, and its hottest grey level."""

    x: float
    y: float
    area_px: float
    peak: int
    box: Rect


@dataclass(frozen=True, slots=True)
class Motion:
    """Where the picture changed beyond the camera's own movement."""

    box: Rect  # union of the moving blobs, picture pixels
    blobs: int
    changed: float  # fraction of the analysed area that changed
    shift: tuple[float, float]  # the camera's movement between the two pictures (px)


def sim_overlays(width: int, height: int) -> list[Rect]:
    """The sim camera's burned-in stamp strip (top) and clock line (bottom), to ignore."""
    return [(0, 0, width, stamp.BAND_H + 2), (0, height - 30, width, 30)]


def _keep_mask(shape: tuple[int, int], ignore: Sequence[Rect], scale: float = 1.0) -> Image:
    mask = np.full(shape, 255, np.uint8)
    for x, y, w, h in ignore:
        x0, y0 = int(x * scale), int(y * scale)
        mask[y0 : y0 + int(np.ceil(h * scale)) + 1, x0 : x0 + int(np.ceil(w * scale)) + 1] = 0
    return mask


def _grey(image: Image) -> Image:
    return image if image.ndim == 2 else np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), np.uint8)


def find_hotspots(
    image: Image, *, threshold: int = 220, min_area_px: float = 50.0, ignore: Sequence[Rect] = ()
) -> list[Hotspot]:
    """The blobs hotter than ``threshold`` (grey level) and at least ``min_area_px``, largest first."""
    grey = _grey(image)
    _, hot = cv2.threshold(grey, threshold, 255, cv2.THRESH_BINARY)
    hot = cv2.bitwise_and(hot, _keep_mask(grey.shape[:2], ignore))
    contours, _ = cv2.findContours(hot, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    spots = []
    for contour in contours:
        moments = cv2.moments(contour)
        if moments["m00"] < min_area_px:
            continue
        x, y, w, h = cv2.boundingRect(contour)
        peak = int(grey[y : y + h, x : x + w].max())
        spots.append(
            Hotspot(
                moments["m10"] / moments["m00"], moments["m01"] / moments["m00"], moments["m00"], peak, (x, y, w, h)
            )
        )
    return sorted(spots, key=lambda s: -s.area_px)


class MotionDetector:
    """Motion between successive pictures of one feed; see the module doc."""

    def __init__(self, *, threshold: int = 30, min_area_px: float = 60.0, ignore: Sequence[Rect] = ()) -> None:
        self.threshold = threshold
        self.min_area_px = min_area_px  # in picture pixels
        self.ignore = list(ignore)
        self._previous: Image | None = None

    def update(self, image: Image) -> Motion | None:
        """Compare ``image`` with the previous one; the motion between them, or None."""
        scale = WORK_WIDTH / image.shape[1]
        resized = cv2.resize(image, (WORK_WIDTH, round(image.shape[0] * scale)), interpolation=cv2.INTER_AREA)
        small: Image = np.asarray(cv2.GaussianBlur(resized, (5, 5), 0), np.uint8)
        previous, self._previous = self._previous, small
        if previous is None or previous.shape != small.shape:
            return None
        h, w = small.shape[:2]
        keep = _keep_mask((h, w), self.ignore, scale)
        dx, dy = self._camera_shift(_grey(previous), _grey(small), keep)
        shifted = cv2.warpAffine(previous, np.array([[1, 0, dx], [0, 1, dy]], np.float32), (w, h))
        margin_x, margin_y = int(abs(dx)) + 2, int(abs(dy)) + 2  # edges the shift uncovered
        keep[:margin_y], keep[h - margin_y :], keep[:, :margin_x], keep[:, w - margin_x :] = 0, 0, 0, 0
        difference = cv2.absdiff(small, shifted)
        if difference.ndim == 3:  # colour: a red car on green grass differs in hue more than in brightness
            difference = difference.max(axis=2)
        _, moved = cv2.threshold(difference, self.threshold, 255, cv2.THRESH_BINARY)
        moved = cv2.morphologyEx(cv2.bitwise_and(moved, keep), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        contours, _ = cv2.findContours(moved, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        blobs = [c for c in contours if cv2.contourArea(c) >= self.min_area_px * scale * scale]
        if not blobs:
            return None
        x, y, bw, bh = cv2.boundingRect(np.concatenate(blobs))
        box = (int(x / scale), int(y / scale), int(np.ceil(bw / scale)), int(np.ceil(bh / scale)))
        changed = float(np.count_nonzero(moved)) / max(1, int(np.count_nonzero(keep)))
        return Motion(box, len(blobs), changed, (dx / scale, dy / scale))

    @staticmethod
    def _camera_shift(previous: Image, current: Image, keep: Image) -> tuple[float, float]:
        """The translation from ``previous`` to ``current`` (grey), measured outside the overlays."""
        a, b = previous.astype(np.float32), current.astype(np.float32)
        hidden = keep == 0
        a[hidden], b[hidden] = float(a[~hidden].mean()), float(b[~hidden].mean())
        window = cv2.createHanningWindow((a.shape[1], a.shape[0]), cv2.CV_32F)
        (dx, dy), _ = cv2.phaseCorrelate(a, b, window)
        return float(dx), float(dy)


@dataclass(frozen=True, slots=True)
class Finding:
    """What the analysis of one picture found, with the picture's size and capture time."""

    hotspots: list[Hotspot]
    motion: Motion | None
    width: int
    height: int
    captured: float


class FeedAnalysis:
    """The opt-in analyses of one feed, run on its decoded keyframes; findings reach the loop."""

    def __init__(
        self,
        *,
        hotspots: bool = False,
        motion: bool = False,
        ignore: Sequence[Rect] = (),
        hot_threshold: int = 220,
        hot_min_area_px: float = 50.0,
        on_finding: Callable[[Finding], None] | None = None,
    ) -> None:
        self.hotspots, self.motion = hotspots, motion
        self.ignore = list(ignore)
        self.hot_threshold, self.hot_min_area_px = hot_threshold, hot_min_area_px
        self.detector = MotionDetector(ignore=self.ignore)
        self.analysed = 0
        self.latest: Finding | None = None
        self._on_finding = on_finding
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(self, decoder: KeyframeDecoder) -> None:
        """Analyse ``decoder``'s pictures; ``on_finding`` is called on this (running) loop."""
        self._loop = asyncio.get_running_loop()
        decoder.add(self.analyse)

    def analyse(self, image: Image, captured: float) -> Finding:
        """Run the enabled analyses on one picture (in the decoder's thread)."""
        spots = []
        if self.hotspots:
            spots = find_hotspots(
                image, threshold=self.hot_threshold, min_area_px=self.hot_min_area_px, ignore=self.ignore
            )
        moved = self.detector.update(image) if self.motion else None
        finding = Finding(spots, moved, image.shape[1], image.shape[0], captured)
        self.analysed += 1
        self.latest = finding
        if self._on_finding is not None and self._loop is not None and (spots or moved):
            with contextlib.suppress(RuntimeError):  # the loop is closing
                self._loop.call_soon_threadsafe(self._on_finding, finding)
        return finding
