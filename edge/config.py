"""Node configuration: TOML, every option with a default and a description.

``check`` reports *every* problem with its key path in plain words (msgspec alone stops at the
first); ``load`` returns a typed ``Config`` or raises ``ConfigError`` carrying all of them.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import tomllib
import types
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec
from msgspec import Meta, Struct

from drones.config import DronesSection
from drones.config import problems as drones_problems
from edge.basemap import Basemap
from edge.basemap import problems as basemap_problems
from edge.deploy.tls import problems as tls_problems
from edge.radio.binary_description import validate as validate_framing
from edge.radio.config import RadioSection
from edge.tak.config import TakSection
from edge.tak.config import problems as tak_problems
from media.config import MediaSection
from media.config import problems as media_problems
from mesh.config import MeshSection


def _doc(text: str) -> Meta:
    return Meta(description=text)


Port = Annotated[int, Meta(ge=0, le=65535)]
Seconds = Annotated[float, Meta(gt=0.0, le=86400.0)]


def _default_node_id() -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:40] or "kit"


class NodeSection(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Who this node is."""

    id: Annotated[
        str,
        _doc("Stable node id used in entity ids and on the mesh; defaults to the host name."),
        Meta(pattern=r"^[A-Za-z0-9._-]{1,40}$"),
    ] = msgspec.field(default_factory=_default_node_id)
    name: Annotated[str, _doc("Display name of the kit on the map; defaults to the id."), Meta(max_length=80)] = ""
    role: Annotated[Literal["edge", "command-post"], _doc("`edge` for a field kit, `command-post` for the post.")] = (
        "edge"
    )
    data_dir: Annotated[str, _doc("Folder for the journal and the token store (created if missing).")] = "var/fieldkit"
    lat: Annotated[
        Annotated[float, Meta(ge=-90, le=90)] | None, _doc("Latitude of the kit (WGS-84 degrees), if known.")
    ] = None
    lon: Annotated[
        Annotated[float, Meta(ge=-180, le=180)] | None, _doc("Longitude of the kit (WGS-84 degrees), if known.")
    ] = None
    simulated: Annotated[
        bool, _doc("Its radios and drones are simulated (`fieldkit sim` sets this): CoT marks them how=\"m-s\".")
    ] = False


class JournalSection(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The durable record."""

    path: Annotated[str, _doc("Journal file; empty means `<data_dir>/journal.sqlite`.")] = ""
    synchronous: Annotated[
        Literal["FULL", "NORMAL"],
        _doc(
            "SQLite fsync level. FULL survives power loss (field kits lose power); NORMAL survives a process "
            "crash only."
        ),
    ] = "FULL"
    flush_interval_s: Annotated[Seconds, _doc("How often changed state and track points are written.")] = 2.0
    history_interval_s: Annotated[Seconds, _doc("How often a replay row is kept for each changed entity.")] = 10.0
    track_interval_s: Annotated[Seconds, _doc("Minimum time between two kept track points of one entity.")] = 1.0
    retain_days: Annotated[
        float,
        _doc("Tracks and replay rows older than this are pruned hourly (events are kept for good)."),
        Meta(gt=0, le=3650),
    ] = 7.0


class SceneSection(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The in-memory picture and its subscribers."""

    reannounce_s: Annotated[Seconds, _doc("An unacknowledged alert is announced again this often.")] = 30.0
    max_subscriber_states: Annotated[
        int, _doc("Entities a subscriber may have waiting before it is resynced with a snapshot."), Meta(ge=10)
    ] = 100_000
    max_subscriber_events: Annotated[
        int, _doc("Events a subscriber may have waiting before it is resynced with a snapshot."), Meta(ge=10)
    ] = 10_000


class ApiSection(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """HTTP API, live WebSocket and the command-post page."""

    host: Annotated[str, _doc("Address to listen on. Loopback unless you mean to serve the network.")] = "127.0.0.1"
    port: Annotated[Port, _doc("TCP port; 0 picks a free one (printed at startup).")] = 8080
    max_body_bytes: Annotated[
        int, _doc("Largest request body accepted; larger ones get 413."), Meta(ge=1024, le=16 * 1024 * 1024)
    ] = 64 * 1024
    max_ws_clients: Annotated[
        int, _doc("Live WebSocket clients served at once; more get refused."), Meta(ge=1, le=10_000)
    ] = 200
    tokens_file: Annotated[str, _doc("Hashed bearer tokens; empty means `<data_dir>/tokens.json`.")] = ""
    tls_cert: Annotated[
        str, _doc("Certificate to serve HTTPS with (`fieldkit certs issue NODE`); empty serves plain HTTP.")
    ] = ""
    tls_key: Annotated[str, _doc("Private key of `tls_cert` (kept 0600).")] = ""
    mbtiles: Annotated[
        str,
        _doc("MBTiles file for the basemap (first in the list); the offline grid (no network needed) is always there."),
    ] = ""
    basemaps: Annotated[
        list[Basemap],
        _doc("More basemaps for the page's layer control: `[[api.basemaps]]` tables (README, Command post)."),
    ] = msgspec.field(default_factory=list)
    metrics_public: Annotated[
        bool,
        _doc(
            "Serve /metrics without a token (for a Prometheus on a trusted network); otherwise a viewer token "
            "is needed (Prometheus `authorization: {credentials: ...}`)."
        ),
    ] = False


class Config(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A whole node configuration."""

    node: NodeSection = msgspec.field(default_factory=NodeSection)
    journal: JournalSection = msgspec.field(default_factory=JournalSection)
    scene: SceneSection = msgspec.field(default_factory=SceneSection)
    api: ApiSection = msgspec.field(default_factory=ApiSection)
    mesh: MeshSection = msgspec.field(default_factory=MeshSection)
    radio: RadioSection = msgspec.field(default_factory=RadioSection)
    drones: DronesSection = msgspec.field(default_factory=DronesSection)
    tak: TakSection = msgspec.field(default_factory=TakSection)
    media: MediaSection = msgspec.field(default_factory=MediaSection)

    @property
    def data_dir(self) -> Path:
        """The data folder as a path."""
        return Path(self.node.data_dir)

    @property
    def journal_path(self) -> Path:
        """Where the journal lives."""
        return Path(self.journal.path) if self.journal.path else self.data_dir / "journal.sqlite"

    @property
    def tokens_path(self) -> Path:
        """Where hashed tokens live."""
        return Path(self.api.tokens_file) if self.api.tokens_file else self.data_dir / "tokens.json"


class ConfigError(Exception):
    """A configuration file has problems; ``problems`` lists every one with its key path."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(problems))
        self.source = source
        self.problems = problems


_PLAIN = {
    "int": "a whole number",
    "float": "a number",
    "str": "text",
    "bool": "true or false",
    "object": "a table",
    "array": "a list",
    "null": "nothing",
}


def _plain(message: str) -> str:
    message = re.sub(r"`(\w+)`", lambda m: _PLAIN.get(m.group(1), m.group(1)), message)
    return message.split(" - at ")[0].replace("Expected", "expected")


def check(data: Any, cls: type[Struct] = Config, path: str = "") -> list[str]:
    """Every problem in ``data`` against the struct ``cls``, each prefixed by its key path."""
    if not isinstance(data, dict):
        return [f"{path or 'the file'}: expected a table of options"]
    fields = {f.encode_name: f for f in msgspec.structs.fields(cls)}
    problems: list[str] = []
    problems += [f"{path}.{k}: required" if path else f"{k}: required" for k, f in fields.items()
                 if f.required and k not in data]
    for key, value in data.items():
        where = f"{path}.{key}" if path else key
        field = fields.get(key)
        if field is None:
            known = ", ".join(sorted(fields))
            problems.append(f"{where}: unknown option (known here: {known})")
            continue
        section = _struct_type(field.type)
        if section is not None:
            problems.extend(check(value, section, where))
            continue
        item = _struct_list_type(field.type)
        if item is not None and isinstance(value, list):
            for i, element in enumerate(value):
                problems.extend(check(element, item, f"{where}[{i}]"))
            continue
        try:
            msgspec.convert(value, type=field.type)
        except msgspec.ValidationError as exc:
            choices = _choices(field.type)
            reason = f"must be one of {', '.join(map(str, choices))}" if choices else _plain(str(exc))
            problems.append(f"{where}: {reason} (got {value!r})")
    if cls is Config and not problems:
        problems.extend(_semantic(msgspec.convert(data, type=Config)))
    return problems


def _semantic(config: Config) -> list[str]:
    problems = []
    try:
        ipaddress.ip_address(config.api.host)
    except ValueError:
        problems.append(
            f"api.host: {config.api.host!r} is not an IP address (use 127.0.0.1, ::1 or an interface address)"
        )
    if config.api.mbtiles and not Path(config.api.mbtiles).is_file():
        problems.append(f"api.mbtiles: no such file {config.api.mbtiles}")
    problems.extend(basemap_problems(config.api.basemaps))
    if config.radio.framing == "binary":
        if config.radio.binary is None:
            problems.append('radio.binary: framing = "binary" needs a description (see docs/RADIO_BINARY.md)')
        else:
            problems.extend(validate_framing(config.radio.binary, "radio.binary"))
    if config.radio.enabled and config.radio.roster and not Path(config.radio.roster).is_file():
        problems.append(f"radio.roster: no such file {config.radio.roster}")
    if (config.node.lat is None) != (config.node.lon is None):
        problems.append("node.lat / node.lon: give both or neither")
    problems.extend(tls_problems(config.api, config.mesh))
    problems.extend(drones_problems(config.drones))
    if config.tak.active:
        problems.extend(tak_problems(config.tak))
    problems.extend(media_problems(config.media))
    return problems


def _choices(tp: Any) -> tuple[Any, ...]:
    if get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return get_args(tp) if get_origin(tp) is Literal else ()


def _struct_type(tp: Any) -> type[Struct] | None:
    """The struct a field holds (also ``Struct | None``), or None for any other type."""
    if get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    if get_origin(tp) in (Union, types.UnionType):
        structs = [a for a in get_args(tp) if a is not type(None)]
        tp = structs[0] if len(structs) == 1 else None
    return tp if isinstance(tp, type) and issubclass(tp, Struct) else None


def _struct_list_type(tp: Any) -> type[Struct] | None:
    """The struct of a ``list[SomeStruct]`` option (a TOML array of tables), else None."""
    if get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    if get_origin(tp) is not list:
        return None
    return _struct_type(get_args(tp)[0])


def parse(text: str, source: str = "<config>") -> Config:
    """Parse TOML text into a Config, or raise ConfigError with every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [f"not valid TOML: {exc}"]) from exc
    problems = check(data)
    if problems:
        raise ConfigError(source, problems)
    return msgspec.convert(data, type=Config)


def load(path: Path | None) -> Config:
    """Read a config file (None gives the defaults)."""
    if path is None:
        return Config()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [f"cannot read: {exc}"]) from exc
    return parse(text, str(path))


def describe(cls: type[Struct] = Config, path: str = "") -> list[tuple[str, str, str, str]]:
    """(key, type, default, description) for every option, for docs/CONFIG.md."""
    rows: list[tuple[str, str, str, str]] = []
    for field in msgspec.structs.fields(cls):
        where = f"{path}.{field.encode_name}" if path else field.encode_name
        section = _struct_type(field.type)
        if section is not None:
            rows.extend(describe(section, where))
            continue
        meta = [m for m in get_args(field.type)[1:] if isinstance(m, Meta) and m.description]
        item = _struct_list_type(field.type)
        if item is not None:
            what = (meta[0].description or "") if meta else ""
            rows.append((where, f"list of {item.__name__}", "[]", what))
            rows.extend(describe(item, f"{where}[]"))
            continue
        default = field.default_factory() if field.default_factory is not msgspec.NODEFAULT else field.default
        type_name = _type_name(get_args(field.type)[0] if get_origin(field.type) is Annotated else field.type)
        shown = "(host name)" if field.default_factory is _default_node_id else _toml(default)
        if field.required:
            shown = "(required)"
        rows.append((where, type_name, shown, (meta[0].description or "") if meta else ""))
    return rows


def _type_name(tp: Any) -> str:
    if get_origin(tp) is Annotated:
        return _type_name(get_args(tp)[0])
    if get_origin(tp) is Literal:
        return " or ".join(f'"{a}"' for a in get_args(tp))
    if get_origin(tp) in (Union, types.UnionType):
        names = [_type_name(a) for a in get_args(tp) if a is not type(None)]
        return " or ".join(names) + (" (optional)" if type(None) in get_args(tp) else "")
    if get_origin(tp) is list:
        return f"list of {_type_name(get_args(tp)[0])}"
    return str(getattr(tp, "__name__", tp))


def _toml(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def markdown() -> str:
    """The configuration reference as Markdown."""
    lines = [
        "# Configuration reference",
        "",
        "`fieldkit run --config kit.toml` reads these options; every one has the default shown. "
        "`fieldkit config check kit.toml` reports every problem with its key path. "
        "Generated by `fieldkit config doc`; a test keeps it in step with the code.",
        "",
        "| key | type | default | meaning |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| `{k}` | {t} | `{d}` | {m} |" for k, t, d, m in describe()]
    return "\n".join(lines) + "\n"
