// Trails: the last few positions of each radio unit as this page received them, as faint lines.
/* global L */
import { el, talkgroupColour } from "./util.js";

const MAX_POINTS = 20;
const STORE_KEY = "fieldkit.trails";

export class Trails {
  constructor(map) {
    this.map = map;
    this.group = L.layerGroup();
    this.trails = new Map(); // unit id -> { points: [[lat, lon], ...], line: L.Polyline | null }
    this.visible = localStorage.getItem(STORE_KEY) !== "off";
    if (this.visible) this.group.addTo(map);
  }

  // Note a unit's value: a new position extends its trail (bounded); other kinds are ignored.
  observe(entity) {
    if (entity.kind !== "unit" || !entity.pos) return;
    let trail = this.trails.get(entity.id);
    if (!trail) {
      trail = { points: [], line: null };
      this.trails.set(entity.id, trail);
    }
    const point = [entity.pos.lat, entity.pos.lon];
    const last = trail.points[trail.points.length - 1];
    const moved = !last || last[0] !== point[0] || last[1] !== point[1];
    if (moved) {
      trail.points.push(point);
      if (trail.points.length > MAX_POINTS) trail.points.splice(0, trail.points.length - MAX_POINTS);
    }
    const style = { color: talkgroupColour(entity.talkgroup), opacity: entity.online === false ? 0.25 : 0.55 };
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
        const root = el("label", { class: "leaflet-bar fk-toggle", title: "last positions of each radio unit" },
          box, " Trails");
        L.DomEvent.disableClickPropagation(root);
        return root;
      },
    });
    new Toggle({ position: "topright" }).addTo(this.map);
  }
}
