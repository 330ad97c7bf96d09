// Trails: the last positions of each radio unit and drone as this page received them, as faint lines.
/* global L */
import { el, talkgroupColour } from "./util.js";

const STORE_KEY = "fieldkit.trails";
const METRES_PER_DEGREE = 111_320;

// Per kind: how many points a trail keeps, how far apart (metres) they must be, and its look.
// A drone reports often and flies fast: more points, thinned so its trail covers minutes, not seconds.
const KINDS = {
  unit: {
    maxPoints: 20,
    minStepM: 0,
    style: (e) => ({ color: talkgroupColour(e.talkgroup), opacity: e.online === false ? 0.25 : 0.55 }),
  },
  vehicle: {
    maxPoints: 120,
    minStepM: 3,
    style: (e) => ({ color: e.armed ? "#d9480f" : "#2a4d8f", opacity: e.link_ok === false ? 0.25 : 0.6, dashArray: "4 3" }),
  },
};

// Rough distance in metres, good enough to thin a trail.
function apart([lat0, lon0], [lat1, lon1]) {
  const dy = (lat1 - lat0) * METRES_PER_DEGREE;
  const dx = (lon1 - lon0) * METRES_PER_DEGREE * Math.cos((lat0 * Math.PI) / 180);
  return Math.hypot(dx, dy);
}

export class Trails {
  constructor(map) {
    this.map = map;
    this.group = L.layerGroup();
    this.trails = new Map(); // entity id -> { points: [[lat, lon], ...], line: L.Polyline | null }
    this.visible = localStorage.getItem(STORE_KEY) !== "off";
    if (this.visible) this.group.addTo(map);
  }

  // Note a unit's or drone's value: a new position extends its trail (bounded); other kinds are ignored.
  observe(entity) {
    const kind = KINDS[entity.kind];
    if (!kind || !entity.pos) return;
    let trail = this.trails.get(entity.id);
    if (!trail) {
      trail = { points: [], line: null };
      this.trails.set(entity.id, trail);
    }
    const point = [entity.pos.lat, entity.pos.lon];
    const last = trail.points[trail.points.length - 1];
    const moved = !last || ((last[0] !== point[0] || last[1] !== point[1]) && apart(last, point) >= kind.minStepM);
    if (moved) {
      trail.points.push(point);
      if (trail.points.length > kind.maxPoints) trail.points.splice(0, trail.points.length - kind.maxPoints);
    }
    const style = kind.style(entity);
    if (trail.points.length < 2) return;
    if (!trail.line) {
      trail.line = L.polyline(trail.points, { ...style, weight: 2.5, interactive: false, className: "fk-trail" });
      trail.line.on("add", () => trail.line.getElement().setAttribute("data-trail-for", entity.id));
      this.group.addLayer(trail.line);
    } else {
      if (moved) trail.line.setLatLngs(trail.points);
      trail.line.setStyle(style);
    }
  }

  remove(id) {
    const trail = this.trails.get(id);
    if (trail && trail.line) this.group.removeLayer(trail.line);
    this.trails.delete(id);
  }

  retain(ids) {
    for (const id of [...this.trails.keys()]) if (!ids.has(id)) this.remove(id);
  }

  setVisible(on) {
    this.visible = on;
    localStorage.setItem(STORE_KEY, on ? "on" : "off");
    if (on) this.group.addTo(this.map);
    else this.group.remove();
  }

  // A map control with a checkbox that shows or hides every trail.
  addToggle() {
    const box = el("input", { type: "checkbox", id: "trails-toggle", checked: this.visible });
    box.addEventListener("change", () => this.setVisible(box.checked));
    const Toggle = L.Control.extend({
      onAdd: () => {
        const root = el("label", { class: "leaflet-bar fk-toggle", title: "last positions of each radio unit and drone" },
          box, " ", el("span", { "data-i18n": "Trails" }, "Trails"));
        L.DomEvent.disableClickPropagation(root);
        return root;
      },
    });
    new Toggle({ position: "topright" }).addTo(this.map);
  }
}
