// The drones at a glance: the Drones tab (one row per vehicle) and the MAVLink links badge in the header.
import { t } from "./i18n.js";
import { ListPanel } from "./listpanel.js";
import { ago, el } from "./util.js";

const LINKS_EVERY_S = 5;
const byName = (a, b) => (a.name || a.id).localeCompare(b.name || b.id, undefined, { numeric: true });

// One row per vehicle; like the roster, rows stay and only their text changes, so clicks are not lost.
class DroneRow {
  constructor(id, onClick) {
    this.state = el("span", { class: "drone-state" });
    this.name = el("span", { class: "drone-name" });
    this.mode = el("span", { class: "drone-mode" });
    this.alt = el("span", { class: "drone-alt" });
    this.battery = el("span", { class: "drone-battery" });
    this.heard = el("span", { class: "drone-heard" });
    this.root = el("li", { class: "drone-row", "data-vehicle-id": id, tabindex: 0, onclick: onClick,
      onkeydown: (event) => { if (event.key === "Enter") onClick(); } },
    this.state, this.name, this.mode, this.alt, this.battery, this.heard);
  }

  fill(e, selected) {
    const lost = e.link_ok === false;
    this.root.className = ["drone-row", e.armed && "armed", lost && "lost", e.tethered && "tethered",
      selected && "selected"].filter(Boolean).join(" ");
    this.state.title = [e.armed ? t("armed") : t("disarmed"), lost ? t("link lost") : t("link ok")].join(", ");
    this.name.textContent = e.name || e.id;
    this.name.title = e.tethered ? t("tethered") : "";
    this.mode.textContent = e.mode || "";
    const alt = e.pos && e.pos.alt_rel_m;
    this.alt.textContent = typeof alt === "number" ? `${Math.round(alt)} m` : "";
    const pct = typeof e.battery_pct === "number" ? Math.round(e.battery_pct) : null;
    this.battery.textContent = pct === null ? "" : `${pct} %`;
    this.battery.classList.toggle("low", pct !== null && pct <= 30);
    this.refresh(e);
  }

  refresh(e) {
    this.heard.textContent = lostOrHeard(e);
  }
}

// drones.LinkState values (and "reconnecting" from older nodes), in words; anything else as sent.
const LINK_STATES = new Set(["connecting", "up", "backoff", "stopped", "reconnecting"]);
const linkState = (state) => (LINK_STATES.has(state) ? t(`mavlink.state.${state}`) : state);

function lostOrHeard(e) {
  const heard = typeof e.last_heard_ts === "number" ? e.last_heard_ts : e.ts;
  return e.link_ok === false ? t("lost {ago}", { ago: ago(heard) }) : ago(heard);
}

export class DroneList extends ListPanel {
  // badge: the tab's count; actions: { select(id) }
  constructor(root, badge, actions) {
    super(badge, actions);
    this.list = root.querySelector("#drones");
    this.empty = root.querySelector("#drones-empty");
  }

  render() {
    const all = [...this.items.values()].sort(byName);
    for (const [id, row] of this.rows) {
      if (!this.items.has(id)) {
        row.root.remove();
        this.rows.delete(id);
      }
    }
    all.forEach((v, index) => {
      let row = this.rows.get(v.id);
      if (!row) {
        row = new DroneRow(v.id, () => this.actions.select(v.id));
        this.rows.set(v.id, row);
      }
      row.fill(v, v.id === this.selected);
      if (this.list.children[index] !== row.root) this.list.insertBefore(row.root, this.list.children[index] || null);
    });
    const flying = all.filter((v) => v.armed).length;
    this.badge.textContent = all.length ? `${flying}/${all.length}` : "";
    this.badge.title = all.length ? t("armed / all") : "";
    this.empty.hidden = all.length > 0;
  }
}

// "MAVLink: 2 links up" from GET /api/drones/links; hidden while the node has no MAVLink links.
export class LinkStatus {
  constructor(badge, load) {
    this.badge = badge;
    this.load = load;
    this.timer = null;
    document.addEventListener("languagechange", () => { if (this.timer !== null) this.poll(); });
  }

  // Poll now and every few seconds; a no-op while already polling.
  start() {
    if (this.timer !== null) return;
    this.poll();
    this.timer = setInterval(() => this.poll(), LINKS_EVERY_S * 1000);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }

  async poll() {
    let links;
    try {
      links = await this.load();
    } catch (error) {
      if (error.status === 401) this.stop();
      this.show("unknown", "MAVLink: ?", `link states unavailable: ${error.message}`);
      return;
    }
    if (!links.length) {
      this.badge.hidden = true;
      return;
    }
    const up = links.filter((l) => l.state === "up").length;
    const systems = new Set(links.flatMap((l) => l.peers.flatMap((p) => p.systems.map(([sysid]) => sysid))));
    const text = up === links.length ? (up === 1 ? t("mavlink.one_up") : t("mavlink.up", { up })) : t("mavlink.some_up", { up, all: links.length });
    const state = up === links.length ? "up" : up ? "degraded" : "down";
    const lines = links.map((l) => {
      const frames = l.peers.reduce((n, p) => n + p.frames_in, 0);
      const badCrc = l.peers.reduce((n, p) => n + (p.framer.bad_crc || 0), 0);
      return [`${l.name} (${l.kind}): ${linkState(l.state)}`,
        l.peers.length ? t("mavlink.frames", { frames }) : t("mavlink.no_peer"),
        badCrc ? t("mavlink.bad_crc", { count: badCrc }) : null,
        l.last_error ? t("mavlink.last_error", { error: l.last_error }) : null]
        .filter(Boolean).join(" · ");
    });
    lines.push(t("mavlink.systems", { systems: [...systems].sort((a, b) => a - b).join(", ") || t("none") }));
    this.show(state, text, lines.join("\n"));
  }

  show(state, text, title) {
    this.badge.hidden = false;
    this.badge.dataset.state = state;
    this.badge.textContent = text;
    this.badge.title = title;
  }
}
