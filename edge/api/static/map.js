// The map: one live layer per entity and a track line (basemaps.js draws what lies under them).
/* global L */
import { droneGlyph, fillDroneLabel, updateDroneGlyph } from "./drones.js";
import { el, talkgroupColour } from "./util.js";

export const DEFAULT_VIEW = { center: [36.7, 119.16], zoom: 14 }; // Weifang
const SVG = "http://www.w3.org/2000/svg";

export function createMap(container) {
  const map = L.map(container, { zoomControl: true }).setView(DEFAULT_VIEW.center, DEFAULT_VIEW.zoom);
  L.control.scale({ imperial: false, maxWidth: 160 }).addTo(map);
  map.attributionControl.setPrefix(false);
  return map;
}

function cameraGlyph() {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 16");
  svg.setAttribute("class", "fk-glyph fk-camera");
  const body = document.createElementNS(SVG, "rect");
  for (const [k, v] of Object.entries({ x: 1, y: 2, width: 15, height: 12, rx: 2 })) body.setAttribute(k, v);
  const lens = document.createElementNS(SVG, "path");
  lens.setAttribute("d", "M16 6 L23 2 V14 L16 10 Z");
  svg.append(body, lens);
  return svg;
}

// Per kind: the inner DOM of a divIcon and how to bring it up to date with a new entity value
// (optionally its size in pixels, 16 unless given, and how to write its label, the name unless given).
const ICONS = {
  unit: {
    build: () => el("span", { class: "fk-glyph fk-dot" }),
    update(root, glyph, e) {
      const offline = e.online === false;
      glyph.style.background = e.emergency || offline ? "" : talkgroupColour(e.talkgroup);
      root.classList.toggle("fk-emergency", Boolean(e.emergency));
      root.classList.toggle("fk-offline", offline);
      root.classList.toggle("fk-talking", Boolean(e.talking) && !offline);
      root.title = offline ? "offline" : e.talking ? "talking" : "";
    },
  },
  vehicle: {
    size: 24,
    build: droneGlyph,
    update: updateDroneGlyph,
    label: fillDroneLabel,
  },
  feed: {
    build: cameraGlyph,
    update(root, glyph, e) {
      root.classList.toggle("fk-live", e.state === "live" || e.state === "streaming");
    },
  },
  node: {
    build: () => el("span", { class: "fk-glyph fk-square" }),
    update() {},
  },
  marker: {
    build: () => el("span", { class: "fk-glyph fk-pin" }),
    update(root, glyph, e) {
      glyph.style.background = e.color || "#ff6600";
    },
  },
};

const Z_OFFSET = { unit: 0, vehicle: 600, feed: 0, node: 500, marker: 0 }; // a drone hovers over its kit

class IconView {
  constructor(entity, onClick) {
    const spec = ICONS[entity.kind];
    this.spec = spec;
    this.glyph = spec.build();
    this.label = el("span", { class: "fk-label" });
    this.root = el("span", { class: `fk-mark fk-${entity.kind}` }, this.glyph, this.label);
    const size = spec.size || 16;
    const icon = L.divIcon({ html: this.root, className: "fk-icon", iconSize: [size, size], iconAnchor: [size / 2, size / 2] });
    this.layer = L.marker([entity.pos.lat, entity.pos.lon], { icon, keyboard: false });
    this.layer.on("click", onClick);
  }

  update(entity) {
    this.layer.setLatLng([entity.pos.lat, entity.pos.lon]);
    if (this.spec.label) this.spec.label(this.label, entity);
    else this.label.textContent = entity.name || entity.id;
    this.spec.update(this.root, this.glyph, entity);
    // alarms on top, then flying drones, parked drones, kits
    this.layer.setZIndexOffset(Z_OFFSET[entity.kind] + (entity.emergency ? 1000 : 0) + (entity.armed ? 50 : 0));
    return true;
  }
}

// Lines, polygons and circles are rebuilt on change: operators' drawings change rarely.
class ShapeView {
  constructor(entity, onClick) {
    this.onClick = onClick;
    this.layer = L.featureGroup();
  }

  update(e) {
    const fence = e.fence_entry || e.fence_exit; // a geofence has a dashed edge
    const style = { color: e.color || "#ff6600", weight: 3, fillOpacity: 0.15, dashArray: fence ? "10 6" : null };
    const points = (e.points || []).map(([lat, lon]) => [lat, lon]);
    let shape;
    if (e.shape === "line") shape = L.polyline(points, style);
    else if (e.shape === "polygon") shape = L.polygon(points, style);
    else shape = L.circle(points[0] || [e.pos.lat, e.pos.lon], { ...style, radius: e.radius_m || 10 });
    if (e.name) shape.bindTooltip(el("span", {}, e.name), { sticky: true });
    shape.on("click", this.onClick);
    this.layer.clearLayers();
    this.layer.addLayer(shape);
    this.shape = shape;
    return false; // the element is new: its data-entity-id must be set again
  }

  element() {
    return this.shape ? this.shape.getElement() : null;
  }
}

export class EntityLayers {
  constructor(map, onSelect) {
    this.map = map;
    this.onSelect = onSelect;
    this.views = new Map();
    this.selected = null;
    this.track = null;
  }

  upsert(entity) {
    if (!entity.pos || !ICONS[entity.kind]) {
      this.remove(entity.id);
      return;
    }
    const isShape = entity.kind === "marker" && entity.shape && entity.shape !== "point";
    let view = this.views.get(entity.id);
    if (view && (view instanceof ShapeView) !== isShape) {
      this.remove(entity.id);
      view = undefined;
    }
    const fresh = !view;
    if (fresh) {
      const onClick = () => this.onSelect(entity.id);
      view = isShape ? new ShapeView(entity, onClick) : new IconView(entity, onClick);
      this.views.set(entity.id, view);
    }
    const sameElement = view.update(entity);
    view.ts = entity.ts;
    if (fresh) view.layer.addTo(this.map);
    if (fresh || !sameElement) this.tag(entity.id, view);
  }

  tag(id, view) {
    const element = view.element ? view.element() : view.layer.getElement();
    if (!element) return;
    element.setAttribute("data-entity-id", id);
    element.classList.toggle("fk-selected", id === this.selected);
  }

  remove(id) {
    const view = this.views.get(id);
    if (!view) return;
    view.layer.remove();
    this.views.delete(id);
  }

  retain(ids) {
    for (const id of [...this.views.keys()]) if (!ids.has(id)) this.remove(id);
  }

  select(id) {
    this.selected = id;
    for (const [key, view] of this.views) this.tag(key, view);
  }

  // Fade what has not been heard from for a while (positions that may be out of date).
  markStale(now, afterSeconds) {
    for (const [id, view] of this.views) {
      const element = view.element ? view.element() : view.layer.getElement();
      if (element && !id.startsWith("marker:")) element.classList.toggle("fk-stale", now - view.ts > afterSeconds);
    }
  }

  fitTo(entities) {
    const points = entities.filter((e) => e.pos).map((e) => [e.pos.lat, e.pos.lon]);
    if (points.length === 1) this.map.setView(points[0], 15);
    else if (points.length > 1) this.map.fitBounds(points, { padding: [40, 40], maxZoom: 16 });
  }

  // Bring an entity into view at the current zoom: pan only when it is (nearly) off screen.
  reveal(id) {
    const view = this.views.get(id);
    if (!view || !view.layer.getLatLng) return;
    const at = view.layer.getLatLng();
    if (!this.map.getBounds().pad(-0.1).contains(at)) this.map.panTo(at);
  }

  focus(lat, lon) {
    this.map.setView([lat, lon], Math.max(this.map.getZoom(), 15));
  }

  // Draw `points` ([[ts, lat, lon, alt], ...]) as the one visible track; none clears it.
  showTrack(points) {
    if (this.track) this.track.remove();
    this.track = null;
    if (!points || points.length === 0) return;
    const line = points.map((p) => [p[1], p[2]]);
    this.track = L.featureGroup([
      L.polyline(line, { color: "#d9480f", weight: 3, opacity: 0.85, dashArray: "6 5", interactive: false }),
      L.circleMarker(line[0], { radius: 4, color: "#d9480f", fillColor: "#fff", fillOpacity: 1, weight: 2 }),
    ]).addTo(this.map);
    this.track.getLayers()[0].getElement().setAttribute("data-track", "");
  }
}
