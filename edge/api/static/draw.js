// Drawing on the map: points, lines, polygons and circles with a category, label and colour; a
// polygon or circle may be a geofence. Each drawing is a marker in the scene (POST /api/markers),
// so it is journaled and shared; a selected marker can be edited (PUT) or deleted (DELETE).
/* global L */
import { t } from "./i18n.js";
import { el } from "./util.js";

export const CATEGORIES = {
  incident_point: "#d0312d",
  hazard_zone: "#e8590c",
  cordon: "#c2255c",
  water_source: "#1c7ed6",
  staging_area: "#2f9e44",
  landing_zone: "#7048e8",
  annotation: "#ff6600",
};
const SHAPES = ["point", "line", "polygon", "circle"];
const NEED = { point: 1, line: 2, polygon: 3, circle: 2 }; // clicks: a circle is its centre and a rim point
const METRES_PER_DEGREE = 111_320;

function metres([lat0, lon0], [lat1, lon1]) {
  const dy = (lat1 - lat0) * METRES_PER_DEGREE;
  const dx = (lon1 - lon0) * METRES_PER_DEGREE * Math.cos((lat0 * Math.PI) / 180);
  return Math.hypot(dx, dy);
}

export class DrawTools {
  // actions: { create(body), edit(id, body), remove(id) } resolve to the server's answer.
  constructor(map, form, controls, actions) {
    this.map = map;
    this.form = form;
    this.controls = controls; // Edit / Delete under a selected marker
    this.actions = actions;
    this.mode = null; // the shape being drawn
    this.editing = null; // the marker being edited, if any
    this.clicks = [];
    this.sketch = null;
    this.canDraw = true;
    this.buildBar();
    this.buildForm();
    map.on("click", (e) => this.click(e.latlng));
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.mode) this.cancel();
    });
    document.addEventListener("languagechange", () => this.relabel());
  }

  // Viewers see drawings but get no tools (the server refuses them anyway).
  setRole(role) {
    this.canDraw = role !== "viewer";
    this.bar.hidden = !this.canDraw;
    if (!this.canDraw) this.cancel();
    this.show(this.selected);
  }

  buildBar() {
    this.buttons = Object.fromEntries(SHAPES.map((shape) => [shape, el("button", {
      type: "button", "data-shape": shape, onclick: () => this.start(shape),
    })]));
    this.bar = el("div", { id: "draw-bar", class: "leaflet-bar fk-draw-bar" }, Object.values(this.buttons));
    const Bar = L.Control.extend({ onAdd: () => this.bar });
    L.DomEvent.disableClickPropagation(this.bar);
    new Bar({ position: "topleft" }).addTo(this.map);
  }

  buildForm() {
    const f = this.form;
    this.hint = el("p", { class: "draw-hint" });
    this.category = el("select", { id: "draw-category" });
    this.label = el("input", { id: "draw-label", maxlength: 200 });
    this.colour = el("input", { id: "draw-colour", type: "color", value: CATEGORIES.hazard_zone });
    this.entry = el("input", { id: "fence-entry", type: "checkbox" });
    this.exit = el("input", { id: "fence-exit", type: "checkbox" });
    this.fenceFor = el("select", { id: "fence-for" });
    this.fence = el("fieldset", { class: "fence" },
      el("legend", { "data-i18n": "draw.fence" }),
      el("label", {}, this.entry, el("span", { "data-i18n": "draw.fence_entry" })),
      el("label", {}, this.exit, el("span", { "data-i18n": "draw.fence_exit" })),
      el("label", {}, el("span", { "data-i18n": "draw.fence_for" }), " ", this.fenceFor));
    this.error = el("p", { class: "error", role: "alert", hidden: true });
    this.save = el("button", { type: "submit", class: "primary", "data-i18n": "draw.save" });
    f.replaceChildren(
      this.hint,
      el("div", { class: "draw-row" },
        el("label", {}, el("span", { "data-i18n": "draw.category" }), " ", this.category),
        el("label", {}, el("span", { "data-i18n": "draw.label" }), " ", this.label),
        el("label", {}, el("span", { "data-i18n": "draw.colour" }), " ", this.colour)),
      this.fence,
      this.error,
      el("div", { class: "actions" }, this.save,
        el("button", { type: "button", id: "draw-restart", "data-i18n": "draw.restart", onclick: () => this.restart() }),
        el("button", { type: "button", "data-i18n": "draw.cancel", onclick: () => this.cancel() })));
    this.category.addEventListener("change", () => { this.colour.value = CATEGORIES[this.category.value]; });
    f.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    this.relabel();
  }

  relabel() {
    for (const [shape, button] of Object.entries(this.buttons)) {
      button.textContent = t(`draw.${shape}`);
      button.title = t(`draw.${shape}.title`);
    }
    const chosen = this.category.value || "hazard_zone";
    this.category.replaceChildren(...Object.keys(CATEGORIES).map((c) => new Option(t(`category.${c}`), c)));
    this.category.value = chosen;
    const whom = this.fenceFor.value || "both";
    this.fenceFor.replaceChildren(...["units", "drones", "both"].map((w) => new Option(t(`fence_for.${w}`), w)));
    this.fenceFor.value = whom;
    for (const node of this.form.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    this.updateHint();
    this.show(this.selected);
  }

  start(shape, marker = null) {
    this.cancel();
    this.mode = shape;
    this.editing = marker;
    this.clicks = marker ? (marker.points || []).map(([lat, lon]) => [lat, lon]) : [];
    if (marker && shape === "circle" && this.clicks.length) {
      const [lat, lon] = this.clicks[0];
      this.clicks.push([lat + (marker.radius_m || 10) / METRES_PER_DEGREE, lon]); // a rim point due north
    }
    this.category.value = marker ? (marker.category in CATEGORIES ? marker.category : "annotation") : "hazard_zone";
    this.colour.value = marker ? marker.color : CATEGORIES[this.category.value];
    this.label.value = marker ? marker.name : "";
    this.entry.checked = Boolean(marker && marker.fence_entry);
    this.exit.checked = Boolean(marker && marker.fence_exit);
    this.fenceFor.value = (marker && marker.fence_for) || "both";
    this.fence.hidden = shape !== "polygon" && shape !== "circle";
    this.buttons[shape].setAttribute("aria-pressed", "true");
    this.map.doubleClickZoom.disable();
    this.map.getContainer().classList.add("fk-drawing");
    this.form.hidden = false;
    this.showError("");
    this.redraw();
  }

  // Start the shape's points again (keeping category, label, colour and rules): how a shape is reshaped.
  restart() {
    this.clicks = [];
    this.redraw();
  }

  cancel() {
    if (this.sketch) this.sketch.remove();
    this.sketch = null;
    this.mode = null;
    this.editing = null;
    this.clicks = [];
    for (const button of Object.values(this.buttons)) button.removeAttribute("aria-pressed");
    this.map.doubleClickZoom.enable();
    this.map.getContainer().classList.remove("fk-drawing");
    this.form.hidden = true;
  }

  click(latlng) {
    if (!this.mode) return;
    const point = [latlng.lat, latlng.lng];
    if (this.mode === "point") this.clicks = [point];
    else if (this.mode === "circle") this.clicks = this.clicks.length ? [this.clicks[0], point] : [point];
    else this.clicks.push(point);
    this.redraw();
  }

  updateHint() {
    if (!this.mode) return;
    const left = Math.max(0, NEED[this.mode] - this.clicks.length);
    this.hint.textContent = left ? t(`draw.hint.${this.mode}`, { left }) : t("draw.hint.ready");
    this.save.disabled = left > 0;
  }

  redraw() {
    if (this.sketch) this.sketch.remove();
    this.sketch = null;
    this.updateHint();
    if (!this.clicks.length) return;
    const style = { color: this.colour.value, weight: 2, dashArray: "5 4", interactive: false, className: "fk-sketch" };
    const parts = this.clicks.map((p) => L.circleMarker(p, { radius: 4, ...style, dashArray: null, fillOpacity: 1 }));
    if (this.mode === "line" && this.clicks.length > 1) parts.push(L.polyline(this.clicks, style));
    if (this.mode === "polygon" && this.clicks.length > 1) parts.push(L.polygon(this.clicks, style));
    if (this.mode === "circle" && this.clicks.length > 1) {
      parts.push(L.circle(this.clicks[0], { ...style, radius: metres(this.clicks[0], this.clicks[1]) }));
    }
    this.sketch = L.featureGroup(parts).addTo(this.map);
  }

  body() {
    const body = {
      name: this.label.value.trim(),
      shape: this.mode,
      points: this.mode === "circle" ? [this.clicks[0]] : this.clicks,
      color: this.colour.value,
      category: this.category.value,
      fence_entry: !this.fence.hidden && this.entry.checked,
      fence_exit: !this.fence.hidden && this.exit.checked,
      fence_for: this.fenceFor.value,
    };
    if (this.mode === "circle") body.radius_m = Math.max(1, Math.round(metres(this.clicks[0], this.clicks[1])));
    return body;
  }

  async submit() {
    if (!this.mode || this.clicks.length < NEED[this.mode]) return;
    this.save.disabled = true;
    try {
      if (this.editing) await this.actions.edit(this.editing.id, this.body());
      else await this.actions.create(this.body());
      this.cancel(); // the marker itself arrives over the live stream, as for every other browser
    } catch (error) {
      this.showError(t("draw.failed", { reason: error.message }));
      this.save.disabled = false;
    }
  }

  showError(text) {
    this.error.textContent = text;
    this.error.hidden = !text;
  }

  // Under the selected entity's details: Edit and Delete for a marker, for those who may draw.
  show(entity) {
    this.selected = entity;
    const marker = entity && entity.kind === "marker" && !entity.removed ? entity : null;
    this.controls.hidden = !marker || !this.canDraw;
    if (this.controls.hidden) return;
    const status = el("span", { class: "marker-status" });
    this.controls.replaceChildren(
      el("button", { type: "button", id: "marker-edit", onclick: () => this.start(marker.shape, marker) }, t("draw.edit")),
      el("button", {
        type: "button",
        id: "marker-delete",
        class: "danger",
        onclick: async () => {
          try {
            await this.actions.remove(marker.id);
          } catch (error) {
            status.textContent = t("draw.failed", { reason: error.message });
          }
        },
      }, t("draw.delete")),
      status);
  }
}
