"""The key layout on the mesh (DESIGN.md, "Mesh"): building and reading Zenoh key expressions.

- ``fk/<node>/state/<kind>/<id>``: last values of the node's own entities (removals go here, reliably);
- ``fk/<node>/state``: a batch of last values of several of the node's entities (matched by
  ``fk/*/state/**`` too: ``**`` matches no chunk as well);
- ``fk/<node>/pos``: position deltas of the node's vehicles against their last full state (posdelta.py);
- ``fk/<node>/tier/<class>/state`` and ``.../pos``: the same, thinned and paced for peers whose link to
  the node is of ``<class>`` (``lte``, ``mesh``, ``narrowband``); ``fk/<node>/state`` and ``fk/<node>/pos``
  are the full-rate tier (``lan``). A receiver subscribes to one tier per sender (tiers.py);
- ``fk/<node>/event/<kind>``: the node's own events;
- ``fk/<node>/journal``: the node's catch-up queryable;
- ``fk/<node>/alive``: the node's liveliness token.
"""

from __future__ import annotations

import re

from msgspec import Struct

PREFIX = "fk"
EVENT_ALL = f"{PREFIX}/*/event/**"
ALIVE_ALL = f"{PREFIX}/*/alive"
REMOVED_ALL = f"{PREFIX}/*/state/*/*"  # one entity's removal (reliable, to everyone): never a batch
TIERS = ("lte", "mesh", "narrowband")  # the thinned tiers; ``lan`` is the full-rate batch_key and pos_key

# Node ids follow edge/config.py's pattern; entity ids follow edge/scene/model.py's EntityId.
_NODE = r"[A-Za-z0-9._-]{1,40}"
_KIND = r"[a-z_]{1,20}"
_ENTITY = r"[a-z]+:[A-Za-z0-9._-]+(?::[A-Za-z0-9._-]+)*"
_KEY = re.compile(
    rf"^{PREFIX}/(?P<node>{_NODE})/(?:(?P<state>state)/(?P<skind>{_KIND})/(?P<id>{_ENTITY})|(?P<batch>state)"
    rf"|(?P<event>event)/(?P<ekind>{_KIND})|(?P<alive>alive)|(?P<journal>journal)|(?P<pos>pos)"
    rf"|tier/(?P<tier>{'|'.join(TIERS)})/(?P<tw>state|pos))$"
)
MAX_KEY = 300


class Key(Struct, frozen=True):
    """A mesh key read back: who, what (``state``, ``batch``, ``pos``, ``event``, ``alive``, ``journal``); kind; id.

    ``tier``: the link class of a thinned ``batch`` or ``pos`` (empty for the full-rate tier).
    """

    node: str
    what: str
    kind: str = ""
    id: str = ""
    tier: str = ""


def state_key(node: str, kind: str, entity_id: str) -> str:
    """Where ``node`` publishes the last value of one of its entities."""
    return f"{PREFIX}/{node}/state/{kind}/{entity_id}"


def batch_key(node: str) -> str:
    """Where ``node`` publishes batches of its entities' last values."""
    return f"{PREFIX}/{node}/state"


def pos_key(node: str) -> str:
    """Where ``node`` publishes position deltas of its vehicles."""
    return f"{PREFIX}/{node}/pos"


def tier_keys(node: str, tier: str) -> tuple[str, str]:
    """Where ``node`` publishes its state batches and position deltas for peers on a ``tier`` link."""
    if tier == "lan":
        return batch_key(node), pos_key(node)
    return f"{PREFIX}/{node}/tier/{tier}/state", f"{PREFIX}/{node}/tier/{tier}/pos"


def tier_subscription(node: str, tier: str) -> list[str]:
    """What a receiver whose link to ``node`` is of class ``tier`` subscribes to for its live state."""
    return list(tier_keys(node, "lan")) if tier == "lan" else [f"{PREFIX}/{node}/tier/{tier}/*"]


def event_key(node: str, kind: str) -> str:
    """Where ``node`` publishes its events of one kind."""
    return f"{PREFIX}/{node}/event/{kind}"


def journal_key(node: str) -> str:
    """The catch-up queryable of ``node``."""
    return f"{PREFIX}/{node}/journal"


def alive_key(node: str) -> str:
    """The liveliness token of ``node``."""
    return f"{PREFIX}/{node}/alive"


def parse_key(key: str) -> Key | None:
    """Read a mesh key; None if it is not one of ours (or malformed)."""
    if len(key) > MAX_KEY:
        return None
    m = _KEY.match(key)
    if m is None:
        return None
    node = m["node"]
    if m["tier"]:
        return Key(node, "batch" if m["tw"] == "state" else "pos", tier=m["tier"])
    if m["state"]:
        return Key(node, "state", m["skind"], m["id"])
    if m["batch"]:
        return Key(node, "batch")
    if m["event"]:
        return Key(node, "event", m["ekind"])
    if m["pos"]:
        return Key(node, "pos")
    return Key(node, "alive" if m["alive"] else "journal")
