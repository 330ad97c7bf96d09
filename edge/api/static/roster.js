// The roster: every radio unit grouped by team (or talkgroup), with presence, battery and last heard.
import { t } from "./i18n.js";
import { ListPanel } from "./listpanel.js";
import { ago, el, icon, talkgroupColour, talkgroupKey } from "./util.js";
import { radioId, talkgroupLabels } from "./radio.js";

const NO_GROUP = "—";
const byName = (a, b) => a.localeCompare(b, undefined, { numeric: true });

function nameOf(u) {
  return u.name || radioId(u.id);
}

// One row per unit; its child elements stay put and only their text changes, so a click on a row is
// never lost to a re-render in the middle of it.
class RosterRow {
  constructor(id, onClick) {
    this.dot = el("span", { class: "presence" });
    this.alias = el("span", { class: "alias" });
    this.rid = el("span", { class: "rid" });
    this.talk = el("span", { class: "talk", title: t("talking now"), "data-i18n-title": "talking now" }, icon("speaker"));
    this.tg = el("span", { class: "tg" });
    this.battery = el("span", { class: "battery" });
    this.heard = el("span", { class: "heard" });
    this.root = el("li", { class: "roster-unit", "data-unit-id": id, tabindex: 0, onclick: onClick,
      onkeydown: (event) => { if (event.key === "Enter") onClick(); } },
    this.dot, this.alias, this.rid, this.talk, this.tg, this.battery, this.heard);
  }

  fill(u, selected) {
    const offline = u.online === false;
    const talking = Boolean(u.talking) && !offline;
    this.root.className = ["roster-unit", offline ? "offline" : "online", talking && "talking",
      u.emergency && "emergency", selected && "selected"].filter(Boolean).join(" ");
    this.dot.title = offline ? t("offline") : t("online");
    this.alias.textContent = nameOf(u);
    this.rid.textContent = radioId(u.id);
    this.talk.classList.toggle("on", talking); // hidden by visibility: the row's grid keeps its columns
    const key = talkgroupKey(u.talkgroup);
    this.tg.textContent = key || "";
    this.tg.title = u.talkgroup || t("no talkgroup");
    this.tg.style.borderColor = key ? talkgroupColour(key) : "transparent";
    const pct = typeof u.battery_pct === "number" ? Math.round(u.battery_pct) : null;
    this.battery.textContent = pct === null ? "" : `${pct} %`;
    this.battery.classList.toggle("low", pct !== null && pct < 20);
    this.battery.title = pct === null ? "" : t("battery");
    this.refresh(u);
  }

  refresh(u) {
    this.heard.textContent = ago(u.ts);
    this.heard.title = t("last heard");
  }
}

export class RosterPanel extends ListPanel {
  // actions: { select(id) }; badge shows "online/total" next to the tab's name.
  constructor(root, badge, actions) {
    super(badge, actions);
    this.root = root.querySelector("#roster");
    this.empty = root.querySelector("#roster-empty");
    this.filter = root.querySelector("#roster-filter");
    this.groups = new Map(); // group name -> { root, head, list }
    this.filter.addEventListener("input", () => this.render());
  }

  groupOf(u, labels) {
    if (u.team) return u.team;
    const key = talkgroupKey(u.talkgroup);
    return key ? `TG ${labels.get(key)}` : NO_GROUP;
  }

  matches(u, needle) {
    if (!needle) return true;
    return [nameOf(u), u.id, radioId(u.id)].some((s) => s.toLowerCase().includes(needle));
  }

  render() {
    const all = [...this.items.values()];
    const labels = talkgroupLabels(all);
    const needle = this.filter.value.trim().toLowerCase();
    const grouped = new Map();
    for (const u of all) {
      const name = this.groupOf(u, labels);
      if (!grouped.has(name)) grouped.set(name, { units: [], online: 0, total: 0 });
      const g = grouped.get(name);
      g.total += 1;
      if (u.online !== false) g.online += 1;
      if (this.matches(u, needle)) g.units.push(u);
    }
    const order = [...grouped.keys()].filter((n) => grouped.get(n).units.length)
      .sort((a, b) => (a === NO_GROUP) - (b === NO_GROUP) || byName(a, b));
    this.dropUnused(new Set(order), new Set(order.flatMap((n) => grouped.get(n).units.map((u) => u.id))));
    order.forEach((name, index) => {
      const g = grouped.get(name);
      const view = this.groupView(name);
      view.head.replaceChildren(el("span", { class: "group-name" }, name),
        el("span", { class: "group-count" }, `${g.online}/${g.total} online`));
      g.units.sort((a, b) => byName(nameOf(a), nameOf(b))).forEach((u, i) => {
        const row = this.rowOf(u.id);
        row.fill(u, u.id === this.selected);
        if (view.list.children[i] !== row.root) view.list.insertBefore(row.root, view.list.children[i] || null);
      });
      if (this.root.children[index] !== view.root) this.root.insertBefore(view.root, this.root.children[index] || null);
    });
    const online = all.filter((u) => u.online !== false).length;
    this.badge.textContent = all.length ? `${online}/${all.length}` : "";
    this.empty.textContent = all.length ? t("No unit matches “{text}”.", { text: this.filter.value.trim() }) : t("No radio units yet.");
    this.empty.hidden = order.length > 0;
  }

  dropUnused(groups, ids) {
    for (const [id, row] of this.rows) {
      if (!ids.has(id)) {
        row.root.remove();
        this.rows.delete(id);
      }
    }
    for (const [name, view] of this.groups) {
      if (!groups.has(name)) {
        view.root.remove();
        this.groups.delete(name);
      }
    }
  }

  groupView(name) {
    let view = this.groups.get(name);
    if (!view) {
      const head = el("h3", { class: "group-head" });
      const list = el("ol", { class: "list" });
      view = { root: el("section", { class: "roster-group", "data-group": name }, head, list), head, list };
      this.groups.set(name, view);
    }
    return view;
  }

  rowOf(id) {
    let row = this.rows.get(id);
    if (!row) {
      row = new RosterRow(id, () => this.actions.select(id));
      this.rows.set(id, row);
    }
    return row;
  }
}
