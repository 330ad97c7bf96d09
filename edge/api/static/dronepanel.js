// The selected drone: its telemetry as detail rows, and the pilot's commands with their answers.
/* global L */
import { formatPosition } from "./coords.js";
import { tetherState } from "./drones.js";
import { t } from "./i18n.js";
import { ago, clock, el, hms } from "./util.js";

const MAX_RESULTS = 6;
const AIRBORNE_M = 1; // above home: disarming there stops the motors in the air
const DEFAULT_TAKEOFF_M = 20;

// Modes the page offers (drones/modes.py has the same names; the server refuses others with the list).
const MODES = {
  ardupilot: ["GUIDED", "LOITER", "AUTO", "RTL", "LAND", "BRAKE", "POSHOLD", "ALT_HOLD", "STABILIZE",
    "SMART_RTL", "CIRCLE", "AUTO_RTL", "FOLLOW", "ACRO", "SPORT", "DRIFT"],
  px4: ["POSCTL", "ALTCTL", "MANUAL", "STABILIZED", "AUTO.LOITER", "AUTO.MISSION", "AUTO.RTL", "AUTO.LAND",
    "AUTO.TAKEOFF", "OFFBOARD", "ACRO"],
};

const LABELS = { arm: "Arm", disarm: "Disarm", takeoff: "Take off", goto: "Go to", rtl: "RTL", land: "Land",
  mode: "Set mode" };

const warn = (text) => el("span", { class: "warn" }, text);
const fixed = (v, digits) => (typeof v === "number" ? v.toFixed(digits) : null);
// Parts that are not there (null, undefined, false, "") are left out; nothing left gives null.
const joined = (...parts) => parts.filter((p) => p !== null && p !== undefined && p !== false && p !== "").join(" · ") || null;

// Detail rows [label, value] for a vehicle, the whole list; a value may be an element (warnings are red).
export function vehicleRows(e) {
  const pos = e.pos;
  const alt = pos && joined(pos.alt_rel_m != null && t("{alt} m rel.", { alt: fixed(pos.alt_rel_m, 1) }),
    pos.alt_msl_m != null && t("{alt} m MSL", { alt: fixed(pos.alt_msl_m, 1) }));
  const speed = joined(
    e.ground_speed_mps != null && `${fixed(e.ground_speed_mps, 1)} m/s (${(e.ground_speed_mps * 3.6).toFixed(0)} km/h)`,
    e.heading_deg != null && t("heading {deg}°", { deg: fixed(e.heading_deg, 0) }),
    e.climb_mps != null && t("climb {rate} m/s", { rate: fixed(e.climb_mps, 1) }));
  const battery = joined(e.battery_pct != null && `${fixed(e.battery_pct, 0)} %`,
    e.battery_v != null && `${fixed(e.battery_v, 2)} V`, e.battery_a != null && `${fixed(e.battery_a, 1)} A`);
  const gps = joined(e.gps_fix && (/^\d/.test(e.gps_fix) ? t("{fix} fix", { fix: e.gps_fix }) : e.gps_fix.replaceAll("_", " ")),
    e.satellites != null && t("{count} satellites", { count: e.satellites }));
  const gpsBad = e.gps_fix && !/^(3d|dgps|rtk)/.test(e.gps_fix);
  const heard = typeof e.last_heard_ts === "number" ? e.last_heard_ts : e.ts;
  const link = joined(e.link_ok === false ? t("LOST") : t("ok"),
    e.link_loss_pct != null && t("{pct} % loss", { pct: fixed(e.link_loss_pct, 1) }), t("heard {ago}", { ago: ago(heard) }));
  return [ // what a pilot looks at first, first: the panel scrolls under the commands
    ["Name", e.name || "—"],
    ["ID", e.id],
    ["Mode", el("span", {}, e.mode || t("unknown"), " · ", e.armed ? warn(t("ARMED")) : t("disarmed"))],
    ["Altitude", alt],
    ["Battery", battery && (e.battery_pct != null && e.battery_pct <= 30 ? warn(battery) : battery)],
    ["Tether", e.tethered ? tetherText(e) : null],
    ["Link", e.link_ok === false ? warn(link) : link],
    ["Speed", speed],
    ["GPS", gps && (gpsBad ? warn(gps) : gps)],
    ["EKF", e.ekf_ok === true ? t("ok") : e.ekf_ok === false ? warn(t("BAD")) : null],
    ["Position", pos ? formatPosition(pos.lat, pos.lon) : t("unknown")],
    ["Home", e.home ? formatPosition(e.home.lat, e.home.lon) : null],
    ["Autopilot", joined(e.autopilot, e.vehicle_type, e.sysid != null && t("sysid {id}", { id: e.sysid }),
      e.origin && t("via {origin}", { origin: e.origin }))],
  ];
}

function tetherText(e) {
  const { level, reasons } = tetherState(e);
  const text = joined(
    e.tether_length_m != null && t("{m} m out", { m: fixed(e.tether_length_m, 0) }),
    e.tether_tension_n != null && `${fixed(e.tether_tension_n, 0)} N`,
    e.tether_power === true ? t("ground power") : e.tether_power === false ? t("NO ground power") : null,
    e.tether_v != null && `${fixed(e.tether_v, 1)} V`,
    e.tether_ceiling_m != null && t("ceiling {m} m", { m: fixed(e.tether_ceiling_m, 0) }),
    ...reasons,
  ) || t("tethered");
  return level === "ok" ? text : el("span", { class: `warn tether-${level}` }, text);
}

// How a command ended, in words, from the HTTP status and the answer (a CommandOutcome or an error).
function describe(status, data, message) {
  const result = data && data.result;
  const detail = (data && data.detail) || message || "";
  // `say` is [word key, vars]: the text is written when shown, so a language switch rewrites it.
  if (status === 200) return { result: "accepted", say: ["cmd.accepted"], title: detail };
  if (status === 202) return { result: "in_progress", say: ["cmd.in_progress"], title: detail };
  if (status === 409) return { result, say: ["cmd.refused", { why: String(result).replaceAll("_", " "), detail }] };
  if (status === 404) return { result: result || "no_vehicle", say: ["cmd.no_vehicle", { detail }] };
  if (status === 504) return { result: "timeout", say: detail ? ["cmd.timeout_detail", { detail }] : ["cmd.timeout"] };
  if (status === 403) return { result: "forbidden", say: ["cmd.forbidden", { detail }] };
  if (status === 400) return { result: "bad_request", say: ["cmd.not_sent", { detail }] };
  if (status === 0) return { result: "unreachable", say: ["cmd.not_sent", { detail }] };
  return { result: result || "error", say: ["cmd.failed", { detail }] };
}

export class DronePanel {
  // send(vehicleId, body) resolves to the outcome or throws ApiError (with .status and .data).
  constructor(root, { map, send }) {
    this.root = root;
    this.map = map;
    this.send = send;
    this.entity = null;
    this.nodeId = null;
    this.forbidden = ""; // the 403 detail once this token was refused: it will not change
    this.pending = new Map(); // vehicle id -> command being carried out
    this.results = new Map(); // vehicle id -> [{ ts, command, result, text, title }], newest first
    this.modeChosen = false; // the pilot picked a mode in the select, which then stops following the vehicle's
    this.picking = null; // the map click handler while a go-to point is being picked
    this.target = null; // { lat, lon, marker } picked for go-to
    this.build();
  }

  build() {
    // data-i18n: translate() (i18n.js) puts these words in the page's language
    const button = (command, attrs = {}) => el("button", { type: "button", "data-command": command, ...attrs,
      "data-i18n": attrs.text || LABELS[command], "data-i18n-title": attrs.title,
      onclick: () => this.request(command) }, attrs.text || LABELS[command]);
    this.note = el("p", { class: "drone-note", role: "status", hidden: true });
    this.takeoffAlt = el("input", { type: "number", id: "takeoff-alt", min: 1, max: 500, step: 1,
      value: DEFAULT_TAKEOFF_M, "aria-label": "takeoff altitude (m above home)" });
    this.modeSelect = el("select", { id: "mode-select", "aria-label": "flight mode",
      onchange: () => { this.modeChosen = true; } });
    this.gotoButton = el("button", { type: "button", "data-command": "goto", "data-i18n": "Go to…",
      onclick: () => this.togglePicking() }, "Go to…");
    this.gotoHint = el("span", { class: "hint" });
    this.gotoAlt = el("input", { type: "number", id: "goto-alt", min: 1, max: 500, step: 1,
      "aria-label": "go-to altitude (m above home)" });
    this.gotoWhere = el("span", { class: "goto-where" });
    this.gotoRow = el("div", { class: "cmd-row goto-confirm", hidden: true }, this.gotoWhere, " at ", this.gotoAlt, " m ",
      button("goto", { text: "Confirm go to", class: "primary" }),
      el("button", { type: "button", "data-i18n": "Cancel", onclick: () => this.clearTarget() }, "Cancel"));
    this.confirmText = el("span");
    this.confirmRow = el("div", { class: "cmd-row cmd-confirm", hidden: true }, this.confirmText,
      el("button", { type: "button", class: "danger", "data-i18n": "Disarm in the air",
        onclick: () => this.request("disarm", { confirmed: true }) }, "Disarm in the air"),
      el("button", { type: "button", "data-i18n": "Cancel", onclick: () => { this.confirmRow.hidden = true; } }, "Cancel"));
    this.list = el("ol", { class: "list cmd-results", id: "cmd-results" });
    this.root.replaceChildren(
      el("h3", { "data-i18n": "Commands" }, "Commands"),
      this.note,
      el("div", { class: "cmd-row" }, button("arm"), button("disarm"), button("rtl", { title: "return to launch" }),
        button("land", { title: "land where it is" })),
      this.confirmRow,
      el("div", { class: "cmd-row" }, button("takeoff"), " to ", this.takeoffAlt, " m"),
      el("div", { class: "cmd-row" }, this.gotoButton, this.gotoHint),
      this.gotoRow,
      el("div", { class: "cmd-row" }, this.modeSelect, button("mode")),
      this.list,
    );
    document.addEventListener("languagechange", () => {
      this.renderResults();
      if (this.picking) this.gotoHint.textContent = t("drone.goto_hint");
      this.refresh();
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.picking) this.stopPicking();
    });
  }

  setNodeId(nodeId) {
    this.nodeId = nodeId;
    this.refresh();
  }

  // The token's role, from /api/whoami: a viewer is told up front instead of at the first refusal.
  setRole(role) {
    if (role === "viewer") this.forbidden = t("drone.viewer");
    this.refresh();
  }

  // A new token may have another role.
  resetRole() {
    this.forbidden = "";
    this.refresh();
  }

  // The selected entity (any kind, or null); called on every update of it.
  show(entity) {
    const vehicle = entity && entity.kind === "vehicle" ? entity : null;
    const changed = !vehicle || !this.entity || vehicle.id !== this.entity.id;
    if (changed) {
      this.stopPicking();
      this.clearTarget();
      this.confirmRow.hidden = true;
    }
    this.entity = vehicle;
    this.root.hidden = !vehicle;
    if (!vehicle) return;
    if (changed) this.modeChosen = false;
    if (changed || this.modeSelect.dataset.autopilot !== String(vehicle.autopilot)) this.fillModes(vehicle);
    // The select follows the vehicle's mode until the pilot picks one.
    if (!this.modeChosen && vehicle.mode && vehicle.mode !== this.modeSelect.value) {
      if (![...this.modeSelect.options].some((o) => o.value === vehicle.mode)) this.fillModes(vehicle);
      this.modeSelect.value = vehicle.mode;
    }
    if (changed) this.renderResults();
    this.refresh();
  }

  gone(id) {
    if (this.entity && this.entity.id === id) this.show(null);
  }

  fillModes(e) {
    const modes = [...(MODES[e.autopilot] || MODES.ardupilot)];
    if (e.mode && !modes.includes(e.mode)) modes.unshift(e.mode);
    this.modeSelect.replaceChildren(...modes.map((m) => el("option", { value: m, selected: m === e.mode }, m)));
    this.modeSelect.dataset.autopilot = String(e.autopilot);
  }

  // Why commands cannot be sent for the selected vehicle, or "".
  blocked() {
    if (this.forbidden) return t("drone.forbidden", { reason: this.forbidden });
    const owner = this.entity.id.split(":")[1];
    if (this.nodeId && owner !== this.nodeId) {
      return t("drone.elsewhere", { kit: owner });
    }
    return "";
  }

  refresh() {
    if (!this.entity) return;
    const why = this.blocked();
    const busy = this.pending.has(this.entity.id);
    this.note.textContent = why;
    this.note.hidden = !why;
    for (const b of this.root.querySelectorAll("button[data-command]")) b.disabled = Boolean(why) || busy;
    if (why) this.stopPicking();
  }

  airborne(e) {
    return e.armed && ((e.pos && e.pos.alt_rel_m) > AIRBORNE_M || (e.ground_speed_mps ?? 0) > 1);
  }

  request(command, { confirmed = false } = {}) {
    const e = this.entity;
    if (!e || this.pending.has(e.id)) return;
    if (command === "disarm" && !confirmed && this.airborne(e)) {
      const name = e.name || e.id;
      this.confirmText.textContent = e.pos && typeof e.pos.alt_rel_m === "number"
        ? t("drone.flying_at", { name, m: Math.round(e.pos.alt_rel_m) }) : t("drone.flying", { name });
      this.confirmRow.hidden = false;
      return;
    }
    this.confirmRow.hidden = true;
    const body = { command };
    if (command === "takeoff") body.alt_m = Number(this.takeoffAlt.value);
    if (command === "mode") body.mode = this.modeSelect.value;
    if (command === "goto") {
      if (!this.target) return;
      body.lat = this.target.lat;
      body.lon = this.target.lon;
      if (this.gotoAlt.value !== "") body.alt_m = Number(this.gotoAlt.value);
    }
    this.carryOut(e.id, command, body);
  }

  async carryOut(id, command, body) {
    this.pending.set(id, command);
    this.addResult(id, { command, result: "sending", say: ["cmd.sending"] });
    this.refresh();
    let outcome;
    try {
      outcome = describe(200, await this.send(id, body));
    } catch (error) {
      outcome = describe(error.status ?? 0, error.data, error.message);
      if (error.status === 403) this.forbidden = error.message;
    }
    this.pending.delete(id);
    if (command === "mode") this.modeChosen = false;
    this.addResult(id, { command, ...outcome }, { replacing: "sending" });
    if (command === "goto" && outcome.result !== "accepted" && outcome.result !== "in_progress") this.clearTarget();
    else if (command === "goto") this.gotoRow.hidden = true;
    this.refresh();
  }

  addResult(id, entry, { replacing } = {}) {
    const list = this.results.get(id) || [];
    const at = replacing ? list.findIndex((r) => r.result === replacing && r.command === entry.command) : -1;
    if (at >= 0) list.splice(at, 1);
    list.unshift({ ts: clock.now(), ...entry }); // node time, like every other time on the page
    this.results.set(id, list.slice(0, MAX_RESULTS));
    if (this.entity && this.entity.id === id) this.renderResults();
  }

  renderResults() {
    const list = (this.entity && this.results.get(this.entity.id)) || [];
    this.list.replaceChildren(...list.map((r) => el("li", {
      class: `cmd-result r-${r.result}`, "data-command": r.command, "data-result": r.result, title: r.title || null,
    }, el("time", {}, hms(r.ts)), el("b", {}, t(LABELS[r.command])), " ", t(...r.say))));
  }

  // --- go to: pick a point on the map, then confirm it with an altitude ---

  togglePicking() {
    if (this.picking) {
      this.stopPicking();
      return;
    }
    this.clearTarget();
    this.picking = (event) => this.picked(event.latlng);
    this.map.once("click", this.picking);
    this.map.getContainer().classList.add("fk-picking");
    this.gotoButton.setAttribute("aria-pressed", "true");
    this.gotoHint.textContent = t("drone.goto_hint");
  }

  stopPicking() {
    if (this.picking) this.map.off("click", this.picking);
    this.picking = null;
    this.map.getContainer().classList.remove("fk-picking");
    this.gotoButton.removeAttribute("aria-pressed");
    this.gotoHint.textContent = "";
  }

  picked(latlng) {
    this.picking = null;
    this.stopPicking();
    const lat = Number(latlng.lat.toFixed(7));
    const lon = Number(latlng.lng.toFixed(7));
    const icon = L.divIcon({ className: "fk-icon", html: el("span", { class: "fk-goto-target" }),
      iconSize: [18, 18], iconAnchor: [9, 9] });
    const marker = L.marker([lat, lon], { icon, interactive: false, keyboard: false }).addTo(this.map);
    marker.getElement().setAttribute("data-goto-target", this.entity ? this.entity.id : "");
    this.target = { lat, lon, marker };
    const alt = this.entity && this.entity.pos ? this.entity.pos.alt_rel_m : null;
    this.gotoAlt.value = String(typeof alt === "number" && alt > 2 ? Math.round(alt) : this.takeoffAlt.value);
    this.gotoWhere.textContent = formatPosition(lat, lon);
    this.gotoRow.hidden = false;
  }

  clearTarget() {
    if (this.target) this.target.marker.remove();
    this.target = null;
    this.gotoRow.hidden = true;
  }
}
