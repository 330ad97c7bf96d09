"""Which codec a configuration names."""

from __future__ import annotations

from collections.abc import Callable

from .binary import BinaryCodec
from .config import MotoTrboSection, RadioSection
from .framing import Codec
from .hytera_codec import HyteraCodec
from .mototrbo import MotoTrboCodec
from .nmea import NmeaCodec


def codec_factory(cfg: RadioSection) -> Callable[[], Codec]:
    """A maker of fresh codecs (one per connection) for the configured framing."""
    if cfg.framing == "hytera":
        return HyteraCodec
    if cfg.framing == "nmea":
        return NmeaCodec
    if cfg.framing == "mototrbo":
        trbo = cfg.mototrbo or MotoTrboSection()
        return lambda: MotoTrboCodec(radio_network=trbo.radio_network, group_network=trbo.group_network,
                                     report_interval_s=trbo.report_interval_s)
    if cfg.framing == "binary" and cfg.binary is not None:
        description = cfg.binary
        return lambda: BinaryCodec(description)
    raise ValueError(f"radio.framing {cfg.framing!r} is not available")
