// Command-post mode: the mesh's link map (one line per pair of linked kits, coloured by quality,
// the numbers in its tooltip) and each kit's health (a label under its marker, a section in its
// details). Everything comes from `node` entities: each kit reports its own links and health
// (mesh/links.py, edge/nodehealth.py), so a line joins what both ends say about it.
import { t } from "./i18n.js";
import { el } from "./util.js";

const COLOURS = { good: "#2f9e44", fair: "#f08c00", poor: "#e03131", down: "#868e96" };
const LEVEL_WORDS = { good: "link.good", fair: "link.fair", poor: "link.poor", down: "link.down" };
const POWER_WORDS = { mains: "power.mains", battery: "power.battery" };

// A link's quality from its worse end: RTT and the share of queries left unanswered.
export function quality(rttMs, lossPct, up) {
  if (!up) return "down";
  if ((lossPct ?? 0) >= 20 || (rttMs ?? 0) >= 1000) return "poor";
  if ((lossPct ?? 0) >= 5 || (rttMs ?? 0) >= 250) return "fair";
  return "good";
}

const nodeId = (id) => id.replace(/^node:/, "");
const pct = (v) => (typeof v === "number" ? `${Math.round(v)} %` : "—");
const ms = (v) => (typeof v === "number" ? `${Math.round(v)} ms` : "—");

function rate(bps) {
  if (typeof bps !== "number") return "—";
  return bps >= 1000 ? `${(bps / 1000).toFixed(1)} kB/s` : `${Math.round(bps)} B/s`;
}

// What `a` says about its link to `b` (or undefined).
function side(a, b) {
  return a && (a.links || []).find((link) => link.peer === nodeId(b.id));
}

function combine(a, b) {
  const ab = side(a, b);
  const ba = side(b, a);
  const ends = [ab, ba].filter(Boolean);
  const rtts = ends.map((l) => l.rtt_ms).filter((v) => typeof v === "number");
  const losses = ends.map((l) => l.loss_pct).filter((v) => typeof v === "number");
  return {
    up: ends.some((l) => l.up),
    rtt: rtts.length ? Math.max(...rtts) : null,
    loss: losses.length ? Math.max(...losses) : null,
    aToB: ba ? ba.rx_bps : null, // what b heard from a
    bToA: ab ? ab.rx_bps : null,
  };
}

function healthLine(health) {
  if (!health) return "";
  const parts = [`${t("CPU")} ${pct(health.cpu_pct)}`, `${t("Memory")} ${pct(health.mem_pct)}`];
  if (health.power) parts.push(health.battery_pct != null ? `${t(POWER_WORDS[health.power] || health.power)} ${pct(health.battery_pct)}` : t(POWER_WORDS[health.power] || health.power));
  return parts.join(" · ");
}

export class KitMap {
  // detailBox: the element the selected kit's health and links go into
  constructor(map, detailBox) {
    this.map = map;
    this.nodes = new Map();
    this.lines = new Map(); // "a|b" -> polyline
    this.labels = new Map(); // node id -> permanent tooltip
    this.section = el("dl", { id: "kit-health", class: "kit-health", hidden: true });
    const fields = detailBox.querySelector("#detail-fields");
    if (fields) fields.after(this.section); // right under the kit's own rows, above the track button
    else detailBox.append(this.section);
    this.shown = null;
    this.queued = false;
    document.addEventListener("languagechange", () => this.queue());
  }

  upsert(entity) {
    if (entity.kind !== "node") return;
    this.nodes.set(entity.id, entity);
    this.queue();
  }

  remove(id) {
    if (this.nodes.delete(id)) this.queue();
  }

  retain(ids) {
    for (const id of [...this.nodes.keys()]) if (!ids.has(id)) this.nodes.delete(id);
    this.queue();
  }

  show(entity) {
    this.shown = entity && entity.kind === "node" ? entity.id : null;
    this.renderDetail();
  }

  queue() {
    if (this.queued) return;
    this.queued = true;
    requestAnimationFrame(() => {
      this.queued = false;
      this.render();
    });
  }

  render() {
    this.renderLines();
    this.renderLabels();
    this.renderDetail();
  }

  renderLines() {
    const wanted = new Set();
    const nodes = [...this.nodes.values()].filter((n) => n.pos);
    for (const [i, a] of nodes.entries()) {
      for (const b of nodes.slice(i + 1)) {
        if (!side(a, b) && !side(b, a)) continue;
        const [x, y] = a.id < b.id ? [a, b] : [b, a];
        const key = `${nodeId(x.id)}|${nodeId(y.id)}`;
        wanted.add(key);
        this.drawLine(key, x, y, combine(x, y));
      }
    }
    for (const [key, line] of this.lines) {
      if (!wanted.has(key)) {
        line.remove();
        this.lines.delete(key);
      }
    }
  }

  drawLine(key, a, b, link) {
    const level = quality(link.rtt, link.loss, link.up);
    const points = [[a.pos.lat, a.pos.lon], [b.pos.lat, b.pos.lon]];
    let line = this.lines.get(key);
    if (!line) {
      line = L.polyline(points, { weight: 4, opacity: 0.85, interactive: true }).addTo(this.map);
      line.bindTooltip("", { sticky: true, className: "fk-link-tip" });
      this.lines.set(key, line);
    } else {
      line.setLatLngs(points);
    }
    line.setStyle({ color: COLOURS[level], dashArray: level === "down" ? "6 6" : null });
    const [na, nb] = [a.name || nodeId(a.id), b.name || nodeId(b.id)];
    const lines = [
      `${na} ↔ ${nb}: ${t(LEVEL_WORDS[level])}`,
      `${t("RTT")} ${ms(link.rtt)} · ${t("Loss")} ${pct(link.loss)}`,
      `${na} → ${nb} ${rate(link.aToB)} · ${nb} → ${na} ${rate(link.bToA)}`,
    ];
    line.setTooltipContent(el("div", { "data-link-tip": key }, lines.flatMap((text, i) => (i ? [el("br"), text] : [text]))));
    const path = line.getElement();
    if (path) {
      path.setAttribute("data-link", key);
      path.setAttribute("data-quality", level);
    }
  }

  renderLabels() {
    for (const [id, label] of this.labels) {
      const node = this.nodes.get(id);
      if (!node || !node.pos || !node.health) {
        label.remove();
        this.labels.delete(id);
      }
    }
    for (const node of this.nodes.values()) {
      if (!node.pos || !node.health) continue;
      let label = this.labels.get(node.id);
      if (!label) {
        label = L.tooltip({ permanent: true, direction: "bottom", offset: [0, 10], className: "fk-kit-health" });
        label.setLatLng([node.pos.lat, node.pos.lon]).setContent("").addTo(this.map);
        this.labels.set(node.id, label);
      }
      label.setLatLng([node.pos.lat, node.pos.lon]);
      const text = healthLine(node.health);
      label.setContent(el("span", { "data-kit": node.id }, text));
    }
  }

  renderDetail() {
    const node = this.shown && this.nodes.get(this.shown);
    this.section.hidden = !node;
    if (!node) return;
    const h = node.health || {};
    const rows = [
      [t("CPU"), pct(h.cpu_pct)],
      [t("Memory"), h.mem_total_mb ? `${pct(h.mem_pct)} ${t("of {mb} MB", { mb: h.mem_total_mb })}` : pct(h.mem_pct)],
      [t("Power"), h.power ? `${t(POWER_WORDS[h.power] || h.power)}${h.battery_pct != null ? ` ${pct(h.battery_pct)}` : ""}` : t("unknown")],
      [t("Uplinks"), (h.uplinks || []).map((u) => `${u.name} ${u.addrs.join(", ")}`).join("; ") || "—"],
    ];
    for (const link of node.links || []) {
      const state = link.up ? `${t("RTT")} ${ms(link.rtt_ms)} · ${t("Loss")} ${pct(link.loss_pct)} · ${rate(link.rx_bps)}` : t("link.down");
      rows.push([`${t("Mesh link")} ${link.peer}`, state]);
    }
    this.section.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  }
}
