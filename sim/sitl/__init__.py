"""A simulated ArduCopter (multirotor or tethered) that real ground software accepts.

Pure core (:class:`Vehicle`: ``step(now)`` and ``handle(msg, now)`` return pymavlink messages)
plus a socket adapter (:class:`SitlEndpoint`: UDP/TCP on loopback) and a CLI
(``python -m sim.sitl``). See :mod:`sim.sitl.vehicle` for the tether's MAVLink names and the
fault controls.
"""

from .codec import Decoder, Encoder
from .endpoint import SitlEndpoint
from .mission import MissionItem
from .model import Limits, Multirotor, Setpoint
from .modes import Mode
from .params import ParamError, ParamSet
from .tether import Tether, TetherConfig
from .vehicle import Vehicle, VehicleConfig

__all__ = [
    "Decoder",
    "Encoder",
    "Limits",
    "MissionItem",
    "Mode",
    "Multirotor",
    "ParamError",
    "ParamSet",
    "Setpoint",
    "SitlEndpoint",
    "Tether",
    "TetherConfig",
    "Vehicle",
    "VehicleConfig",
]
