// Drones on the map: the quad symbol and its label, home, and for a tethered drone the tether and its ceiling.
/* global L */
import { el } from "./util.js";

const SVG = "http://www.w3.org/2000/svg";

// The drone service's default alert thresholds (drones/config.py: tether_ceiling_margin_m,
// tether_tension_high_n); the page is not told the configured ones, so it warns by the defaults.
export const CEILING_MARGIN_M = 5;
export const TENSION_HIGH_N = 150;
const NEAR_CEILING = 0.8; // orange from 80 % of the ceiling ...
const NEAR_TENSION = 0.7; // ... or 70 % of the alarm tension
export const LOSS_POOR_PCT = 10; // a link dropping more than this is shown as poor
const TETHER_COLOURS = { ok: "#0e8a9a", near: "#e07b00", limit: "#d0312d" };
const METRES_PER_DEGREE_LAT = 111_320;

// A quadcopter seen from above, nose up: four rotors (the front pair tinted), the X of its arms, an arrow for the body.
export function droneGlyph() {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "fk-glyph fk-drone");
  const part = (tag, attrs) => {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    svg.append(node);
  };
  part("path", { d: "M6 6L18 18M18 6L6 18", class: "arms" });
  for (const [cx, cy] of [[5, 5], [19, 5]]) part("circle", { cx, cy, r: 3.8, class: "rotor front" });
  for (const [cx, cy] of [[5, 19], [19, 19]]) part("circle", { cx, cy, r: 3.8, class: "rotor" });
  part("path", { d: "M12 0.5L17.5 16.5L12 13.5L6.5 16.5Z", class: "body" });
  return svg;
}

const round = (v) => Math.round(v);

// "drone 1 · 30 m · 80 %", then the flight mode as a chip.
export function fillDroneLabel(label, e) {
  const alt = e.pos && typeof e.pos.alt_rel_m === "number" ? `${round(e.pos.alt_rel_m)} m` : null;
  const battery = typeof e.battery_pct === "number" ? `${round(e.battery_pct)} %` : null;
  const text = [e.name || e.id, alt, battery].filter(Boolean).join(" · ");
  label.replaceChildren(text, e.mode ? el("span", { class: "fk-mode" }, e.mode) : "");
}

// How the drone's symbol looks: heading, armed, link health.
export function updateDroneGlyph(root, glyph, e) {
  glyph.style.transform = `rotate(${Number(e.heading_deg) || 0}deg)`;
  const lost = e.link_ok === false;
  root.classList.toggle("fk-armed", Boolean(e.armed));
  root.classList.toggle("fk-link-lost", lost);
  root.classList.toggle("fk-link-poor", !lost && (e.link_loss_pct ?? 0) > LOSS_POOR_PCT);
  root.title = [e.armed ? "armed" : "disarmed", lost ? "link lost" : null, e.mode].filter(Boolean).join(" · ");
}

// "ok", "near" (orange) or "limit" (red), with the reasons: altitude against the ceiling, tension, ground power.
export function tetherState(e) {
  let level = 0;
  const reasons = [];
  const raise = (to, why) => {
    level = Math.max(level, to);
    reasons.push(why);
  };
  const alt = e.pos ? e.pos.alt_rel_m : null;
  const ceiling = e.tether_ceiling_m;
  if (typeof alt === "number" && typeof ceiling === "number" && ceiling > 0) {
    if (alt >= ceiling - CEILING_MARGIN_M) raise(2, "at the tether ceiling");
    else if (alt >= ceiling * NEAR_CEILING) raise(1, "near the tether ceiling");
  }
  const tension = e.tether_tension_n;
  if (typeof tension === "number") {
    if (tension >= TENSION_HIGH_N) raise(2, "tension high");
    else if (tension >= TENSION_HIGH_N * NEAR_TENSION) raise(1, "tension rising");
  }
  if (e.tether_power === false) raise(1, "no ground power");
  return { level: ["ok", "near", "limit"][level], reasons };
}

// A point `metres` north of [lat, lon].
function north(lat, lon, metres) {
  return [lat + metres / METRES_PER_DEGREE_LAT, lon];
}

// Per vehicle: its home, and when tethered the tether line and the ceiling ring around home.
class DroneOverlay {
  constructor(group, id, onSelect) {
    this.group = group;
    this.id = id;
    this.onSelect = onSelect;
    this.home = null;
    this.tether = null;
    this.ceiling = null;
    this.ceilingLabel = null;
    this.level = "ok";
    this.labelText = "";
  }

  update(e) {
    const home = e.home ? [e.home.lat, e.home.lon] : null;
    this.updateHome(home, e);
    const tethered = Boolean(e.tethered) && home && e.pos;
    if (!tethered) {
      this.dropTether();
      return;
    }
    const { level, reasons } = tetherState(e);
    this.level = level;
    const colour = TETHER_COLOURS[level];
    const at = [e.pos.lat, e.pos.lon];
    if (!this.tether) {
      this.tether = L.polyline([home, at], { weight: 2.5, interactive: false, className: "fk-tether" });
      this.tether.on("add", () => this.tag(this.tether, "data-tether-for"));
      this.group.addLayer(this.tether);
    } else {
      this.tether.setLatLngs([home, at]);
    }
    this.tether.setStyle({ color: colour, opacity: 0.9 });
    this.tag(this.tether, "data-tether-for");
    this.updateCeiling(home, e, level, colour, reasons);
  }

  updateCeiling(home, e, level, colour, reasons) {
    const ceiling = e.tether_ceiling_m;
    if (typeof ceiling !== "number" || ceiling <= 0) {
      this.dropCeiling();
      return;
    }
    const style = { color: colour, weight: 1.5, dashArray: "6 6", fillOpacity: level === "ok" ? 0.03 : 0.08 };
    if (!this.ceiling) {
      this.ceiling = L.circle(home, { ...style, radius: ceiling, interactive: false, className: "fk-ceiling" });
      this.ceiling.on("add", () => this.tag(this.ceiling, "data-ceiling-for"));
      this.group.addLayer(this.ceiling);
      this.ceilingLabel = L.marker(north(...home, ceiling), {
        icon: L.divIcon({ className: "fk-icon", html: el("span", { class: "fk-ceiling-label" }), iconSize: [0, 0] }),
        interactive: false, keyboard: false,
      });
      this.ceilingLabel.on("add", () => this.fillCeilingLabel());
      this.group.addLayer(this.ceilingLabel);
    } else {
      this.ceiling.setLatLng(home);
      this.ceiling.setRadius(ceiling);
      this.ceilingLabel.setLatLng(north(...home, ceiling));
    }
    this.ceiling.setStyle(style);
    this.tag(this.ceiling, "data-ceiling-for");
    const alt = e.pos && typeof e.pos.alt_rel_m === "number" ? ` · at ${round(e.pos.alt_rel_m)} m` : "";
    this.labelText = `tether ceiling ${round(ceiling)} m${alt}${reasons.length ? ` · ${reasons.join(", ")}` : ""}`;
    this.fillCeilingLabel();
  }

  fillCeilingLabel() {
    const element = this.ceilingLabel && this.ceilingLabel.getElement();
    const span = element && element.querySelector(".fk-ceiling-label");
    if (!span) return;
    span.textContent = this.labelText;
    span.dataset.level = this.level;
    span.setAttribute("data-ceiling-label-for", this.id);
  }

  updateHome(home, e) {
    if (!home) {
      if (this.home) this.group.removeLayer(this.home);
      this.home = null;
      return;
    }
    if (!this.home) {
      const icon = L.divIcon({ className: "fk-icon", html: el("span", { class: "fk-home" }, "H"),
        iconSize: [14, 14], iconAnchor: [7, 7] });
      this.home = L.marker(home, { icon, keyboard: false, zIndexOffset: -100 });
      this.home.on("click", () => this.onSelect(this.id));
      this.home.on("add", () => this.tag(this.home, "data-home-for"));
      this.group.addLayer(this.home);
    } else {
      this.home.setLatLng(home);
    }
    this.home.options.title = `home of ${e.name || e.id}`;
    const element = this.home.getElement();
    if (element) element.title = this.home.options.title;
  }

  // Mark a layer's element with the vehicle id (and the tether's level) for styling and for tests.
  tag(layer, attribute) {
    const element = layer.getElement && layer.getElement();
    if (!element) return;
    element.setAttribute(attribute, this.id);
    if (attribute !== "data-home-for") element.dataset.level = this.level;
  }

  dropCeiling() {
    for (const layer of [this.ceiling, this.ceilingLabel]) if (layer) this.group.removeLayer(layer);
    this.ceiling = null;
    this.ceilingLabel = null;
  }

  dropTether() {
    if (this.tether) this.group.removeLayer(this.tether);
    this.tether = null;
    this.dropCeiling();
  }

  remove() {
    this.dropTether();
    if (this.home) this.group.removeLayer(this.home);
    this.home = null;
  }
}

export class DroneOverlays {
  constructor(map, onSelect) {
    this.group = L.layerGroup().addTo(map);
    this.onSelect = onSelect;
    this.views = new Map();
  }

  upsert(entity) {
    if (entity.kind !== "vehicle") return;
    let view = this.views.get(entity.id);
    if (!view) {
      view = new DroneOverlay(this.group, entity.id, this.onSelect);
      this.views.set(entity.id, view);
    }
    view.update(entity);
  }

  remove(id) {
    const view = this.views.get(id);
    if (view) view.remove();
    this.views.delete(id);
  }

  retain(ids) {
    for (const id of [...this.views.keys()]) if (!ids.has(id)) this.remove(id);
  }
}
