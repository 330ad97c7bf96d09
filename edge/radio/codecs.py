"""Which codec a configuration names."""

from __future__ import annotations

from collections.abc import Callable

from .binary import BinaryCodec
from .config import RadioSection
from .framing import Codec
from .hytera_codec import HyteraCodec
from .nmea import NmeaCodec


def codec_factory(cfg: RadioSection) -> Callable[[], Codec]:
    """A maker of fresh codecs (one per connection) for the configured framing."""
    if cfg.framing == "hytera":
        return HyteraCodec
    if cfg.framing == "nmea":
        return NmeaCodec
    if cfg.framing == "binary" and cfg.binary is not None:
        description = cfg.binary
        return lambda: BinaryCodec(description)
    raise ValueError(f"radio.framing {cfg.framing!r} is not available")
