// Radio traffic: talkgroup names, who is on the air now, the log of finished calls, message recipients.
import { t } from "./i18n.js";
import { clock, duration, el, hms, icon, talkgroupColour, talkgroupKey } from "./util.js";

const MAX_CALLS = 50;

// The radio id of a unit: the last part of `unit:<system>:<radio id>`.
export function radioId(id) {
  return String(id).split(":").pop();
}

function systemOf(id) {
  const parts = String(id).split(":");
  return parts.length >= 3 ? parts[1] : "pdt";
}

// Talkgroup key -> the fullest label any unit gives it ("9001" -> "9001 指挥 Command").
export function talkgroupLabels(units) {
  const labels = new Map();
  for (const u of units) {
    const key = talkgroupKey(u.talkgroup);
    if (!key) continue;
    const label = String(u.talkgroup).trim();
    if (!labels.has(key) || label.length > labels.get(key).length) labels.set(key, label);
  }
  return labels;
}

function chip(talkgroup) {
  return el("span", { class: "tg-chip", style: `background:${talkgroupColour(talkgroup)}` });
}

// Choices for the message form: everyone, each talkgroup heard (numbered ones: a gateway can only
// address those) and each unit, as [{ value, label, group }].
export function recipientsOf(units) {
  const talkgroups = new Map();
  for (const u of units) {
    const key = talkgroupKey(u.talkgroup);
    if (/^\d+$/.test(key)) talkgroups.set(`talkgroup:${systemOf(u.id)}:${key}`, key);
  }
  const labels = talkgroupLabels(units);
  const byNumber = (a, b) => a.label.localeCompare(b.label, undefined, { numeric: true });
  return [
    { value: "all", label: t("all"), group: "" },
    ...[...talkgroups].map(([value, key]) => ({ value, label: `TG ${labels.get(key)}`, group: t("Talkgroups") }))
      .sort(byNumber),
    ...units.map((u) => ({ value: u.id, label: `${u.name || radioId(u.id)} (${radioId(u.id)})`, group: t("Units") }))
      .sort(byNumber),
  ];
}

// Who is talking now, one line per talkgroup: "9001 · 指挥-01 speaking 12 s".
export class ActivityStrip {
  constructor(root, select) {
    this.list = root.querySelector("#talking");
    this.empty = root.querySelector("#talking-empty");
    this.select = select;
    this.since = new Map(); // unit id -> node time it was first seen talking
    this.lines = new Map(); // talkgroup key -> { root, names, time, first }
  }

  // A talking unit carries its call's start (talking_since) and talkgroup (talking_on).
  observe(unit) {
    if (unit.kind !== "unit") return;
    if (unit.talking && unit.online !== false) {
      this.since.set(unit.id, unit.talking_since ?? this.since.get(unit.id) ?? unit.ts);
    } else {
      this.since.delete(unit.id);
    }
  }

  forget(id) {
    this.since.delete(id);
  }

  retain(ids) {
    for (const id of [...this.since.keys()]) if (!ids.has(id)) this.since.delete(id);
  }

  // Lines are kept per talkgroup and only their text changes: this runs every second and on every
  // unit report, and a line replaced between mouse down and up would swallow the click.
  render(units) {
    const labels = talkgroupLabels(units);
    const groups = new Map();
    for (const u of units) {
      if (!this.since.has(u.id)) continue;
      const key = talkgroupKey(u.talking_on || u.talkgroup) || "?";
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(u);
    }
    for (const [key, line] of this.lines) {
      if (!groups.has(key)) {
        line.root.remove();
        this.lines.delete(key);
      }
    }
    const now = clock.now();
    [...groups.keys()].sort((a, b) => a.localeCompare(b, undefined, { numeric: true })).forEach((key, index) => {
      const talkers = groups.get(key);
      const line = this.lineOf(key);
      line.first = talkers[0].id;
      line.root.title = labels.get(key) || key;
      line.names.textContent = talkers.map((u) => u.name || radioId(u.id)).join(", ");
      const since = Math.min(...talkers.map((u) => this.since.get(u.id)));
      line.time.textContent = t(" speaking {duration}", { duration: duration(now - since) });
      if (this.list.children[index] !== line.root) this.list.insertBefore(line.root, this.list.children[index] || null);
    });
    this.empty.hidden = groups.size > 0;
  }

  lineOf(key) {
    let line = this.lines.get(key);
    if (!line) {
      line = { first: null, names: el("span", { class: "talker" }), time: el("span", { class: "talk-time" }) };
      line.root = el("li", { class: "on-air", "data-talkgroup": key, onclick: () => this.select(line.first) },
        icon("speaker"), chip(key), el("b", {}, key), " · ", line.names, line.time);
      this.lines.set(key, line);
    }
    return line;
  }
}

// The last calls, newest first: time, talkgroup, caller, duration.
export class CallLog {
  constructor(root, { nameOf, select }) {
    this.list = root.querySelector("#calls");
    this.empty = root.querySelector("#calls-empty");
    this.error = root.querySelector("#calls-error");
    this.nameOf = nameOf;
    this.select = select;
    this.calls = new Map();
    document.addEventListener("languagechange", () => this.render());
  }

  // Merge calls (journal or live): they are immutable events, so keeping what we had is right.
  merge(calls) {
    for (const c of calls) if (c.kind === "call") this.calls.set(c.id, c);
    const newest = [...this.calls.values()].sort((a, b) => b.ts - a.ts).slice(0, MAX_CALLS);
    this.calls = new Map(newest.map((c) => [c.id, c]));
    this.render();
  }

  showError(text) {
    this.error.textContent = text;
    this.error.hidden = !text;
  }

  render() {
    const rows = [...this.calls.values()].map((c) => el("li", {
      class: "call", "data-call-id": c.id, title: t("call.title", { type: t(`call.${c.call_type}`), talkgroup: c.talkgroup }),
      onclick: () => this.select(c.caller),
    },
    el("time", {}, hms(c.start_ts)),
    el("span", { class: "call-tg" }, chip(c.talkgroup), talkgroupKey(c.talkgroup)),
    el("span", { class: "call-caller" }, this.nameOf(c.caller)),
    el("span", { class: "call-dur" }, duration(c.duration_s))));
    this.list.replaceChildren(...rows);
    this.empty.hidden = rows.length > 0;
  }
}
