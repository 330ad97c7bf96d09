// The side panels: open alerts (acknowledge / clear), messages (list and send), the selected entity.
import { formatPosition } from "./coords.js";
import { vehicleRows } from "./dronepanel.js";
import { t } from "./i18n.js";
import { ago, el, hms, icon } from "./util.js";

const MAX_MESSAGES = 200;

export class AlertPanel {
  // actions: { ack(id), clear(id), locate(alert), changed(open records)? }; ack/clear resolve to the new AlertRecord.
  constructor(root, actions) {
    this.list = root.querySelector("#alerts");
    this.empty = root.querySelector("#alerts-empty");
    this.error = root.querySelector("#alert-error");
    this.count = root.querySelector("#alert-count");
    this.actions = actions;
    this.records = new Map();
    this.items = new Map();
    document.addEventListener("languagechange", () => this.render());
  }

  replace(records) {
    this.records.clear();
    for (const record of records) this.records.set(record.alert.id, record);
    this.render();
  }

  upsert(record, { flash = false } = {}) {
    this.records.set(record.alert.id, record);
    this.render();
    if (flash) this.flash(record.alert.id);
  }

  // Apply an alert, alert_ack or alert_clear event; false when it names an alert we do not hold.
  applyEvent(event) {
    if (event.kind === "alert") {
      if (!this.records.has(event.id)) this.upsert({ alert: event, status: "raised" });
      return true;
    }
    const record = this.records.get(event.alert_id);
    if (!record) return false;
    if (event.kind === "alert_ack" && record.status === "raised") {
      this.upsert({ ...record, status: "acknowledged", acked_by: event.by, acked_ts: event.ts });
    } else if (event.kind === "alert_clear") {
      this.upsert({ ...record, status: "cleared", cleared_by: event.by, cleared_ts: event.ts });
    }
    return true;
  }

  flash(id) {
    const item = this.items.get(id);
    if (!item) return;
    item.classList.remove("flash");
    void item.offsetWidth; // restart the animation
    item.classList.add("flash");
  }

  showError(text) {
    this.error.textContent = text;
    this.error.hidden = !text;
  }

  render() {
    const open = [...this.records.values()]
      .filter((r) => r.status !== "cleared")
      .sort((a, b) => b.alert.ts - a.alert.ts);
    const keep = new Set(open.map((r) => r.alert.id));
    for (const [id, item] of this.items) {
      if (!keep.has(id)) {
        item.remove();
        this.items.delete(id);
      }
    }
    open.forEach((record, index) => {
      let item = this.items.get(record.alert.id);
      if (!item) {
        item = el("li", { "data-alert-id": record.alert.id, tabindex: 0 });
        item.addEventListener("animationend", () => item.classList.remove("flash"));
        item.addEventListener("click", () => this.actions.locate(this.records.get(record.alert.id).alert));
        this.items.set(record.alert.id, item);
      }
      this.fill(item, record);
      if (this.list.children[index] !== item) this.list.insertBefore(item, this.list.children[index] || null);
    });
    this.empty.hidden = open.length > 0;
    const raised = open.filter((r) => r.status === "raised").length;
    this.count.textContent = raised ? String(raised) : "";
    this.count.hidden = raised === 0;
    if (this.actions.changed) this.actions.changed(open);
  }

  fill(item, record) {
    const { alert } = record;
    const flashing = item.classList.contains("flash");
    item.className = `alert sev-${alert.severity} st-${record.status}${flashing ? " flash" : ""}`;
    const who = record.status === "acknowledged" && record.acked_by
      ? el("div", { class: "alert-who" }, t("acknowledged by {who}", { who: record.acked_by }),
        record.acked_ts ? t(" at {time}", { time: hms(record.acked_ts) }) : "")
      : null;
    const buttons = el("div", { class: "actions" });
    if (record.status === "raised") buttons.append(this.button("Acknowledge", "ack", alert.id));
    buttons.append(this.button("Clear", "clear", alert.id));
    const parts = [
      el("div", { class: "alert-head" },
        el("span", { class: "sev" }, t(alert.severity)),
        el("span", { class: "status" }, t(record.status)),
        el("time", {}, hms(alert.ts))),
      el("div", { class: "alert-title" }, alert.title),
      alert.text ? el("div", { class: "alert-text" }, alert.text) : null,
      who,
      buttons,
    ];
    item.replaceChildren(...parts.filter(Boolean)); // replaceChildren would print a null as "null"
  }

  button(label, action, id) {
    return el("button", {
      type: "button",
      class: action,
      onclick: async (event) => {
        event.stopPropagation();
        event.currentTarget.disabled = true;
        try {
          this.upsert(await this.actions[action](id));
          this.showError("");
        } catch (error) {
          this.showError(t("{action} failed: {reason}", { action: t(label), reason: error.message }));
          this.render();
        }
      },
    }, t(label));
  }
}

// A message typed here to a radio unit or talkgroup goes out through a radio gateway, which reports
// what became of it with a `receipt` event (edge/radio/outbox.py).
const RADIO_ADDRESS = /^(unit|talkgroup):[^:]+:\d+$/;
const MAX_RECEIPTS = 1000;

function radioBound(m) {
  return !m.via && RADIO_ADDRESS.test(m.to);
}

export class MessagePanel {
  // send(to, text) resolves to the stored Message; describe(to) names a recipient for people.
  constructor(root, send, describe) {
    this.list = root.querySelector("#messages");
    this.error = root.querySelector("#message-error");
    this.text = root.querySelector("#message-text");
    this.to = root.querySelector("#message-to");
    this.describe = describe;
    this.messages = new Map();
    this.receipts = new Map(); // message id -> the latest receipt, which may come before the message
    this.choices = "";
    document.addEventListener("languagechange", () => this.render());
    root.querySelector("#message-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = this.text.value.trim();
      if (!text) return;
      const submit = event.submitter;
      if (submit) submit.disabled = true;
      try {
        this.add(await send(this.to.value.trim() || "all", text));
        this.text.value = "";
        this.showError("");
      } catch (error) {
        this.showError(t("Not sent: {reason}", { reason: error.message }));
      } finally {
        if (submit) submit.disabled = false;
      }
    });
  }

  showError(text) {
    this.error.textContent = text;
    this.error.hidden = !text;
  }

  // Offer [{ value, label, group }]; the current choice stays even if its unit has gone, so the
  // form never switches to another recipient behind the operator's back.
  setRecipients(choices) {
    const current = this.to.value || "all";
    if (!choices.some((c) => c.value === current)) choices = [...choices, { value: current, label: current, group: "" }];
    const signature = JSON.stringify(choices);
    if (signature === this.choices) return;
    this.choices = signature;
    const groups = new Map();
    for (const c of choices) {
      if (!groups.has(c.group)) groups.set(c.group, []);
      groups.get(c.group).push(el("option", { value: c.value, selected: c.value === current }, c.label));
    }
    this.to.replaceChildren(...[...groups].map(([name, options]) => (name ? el("optgroup", { label: name }, options) : options)).flat());
    this.to.value = current;
  }

  replace(messages) {
    this.messages.clear();
    for (const m of messages) this.messages.set(m.id, m);
    this.render();
  }

  add(message) {
    if (this.messages.has(message.id)) return;
    this.messages.set(message.id, message);
    this.render();
  }

  // The earliest time a receipt for a message we hold could have been written, or null if none waits.
  receiptsSince() {
    const times = [...this.messages.values()].filter(radioBound).map((m) => m.ts);
    return times.length ? Math.min(...times) : null;
  }

  addReceipts(receipts) {
    let shown = false;
    for (const r of receipts) {
      const held = this.receipts.get(r.message_id);
      if (held && held.ts > r.ts) continue;
      this.receipts.delete(r.message_id); // re-insert: the map's order is the order to forget in
      this.receipts.set(r.message_id, r);
      shown ||= this.messages.has(r.message_id);
    }
    while (this.receipts.size > MAX_RECEIPTS) this.receipts.delete(this.receipts.keys().next().value);
    if (shown) this.render();
  }

  delivery(m) {
    if (!radioBound(m)) return null;
    const r = this.receipts.get(m.id);
    if (!r) return el("span", { class: "receipt st-pending", title: t("waiting for the gateway's report") }, t("sending…"));
    const detail = [r.reason, `${r.attempts} attempt${r.attempts === 1 ? "" : "s"}`].filter(Boolean).join(" · ");
    if (!r.ok) return el("span", { class: "receipt st-failed", title: detail }, t("failed ✗"));
    const text = t(m.to.startsWith("talkgroup:") ? "sent ✓" : "delivered ✓");
    return el("span", { class: "receipt st-ok", title: `${detail} (${hms(r.ts)})` }, text);
  }

  render() {
    const atBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    const recent = [...this.messages.values()].sort((a, b) => a.ts - b.ts).slice(-MAX_MESSAGES);
    if (recent.length < this.messages.size) this.messages = new Map(recent.map((m) => [m.id, m]));
    this.list.replaceChildren(...recent.map((m) => el("li", { class: "message", "data-message-id": m.id },
      el("div", { class: "message-head" },
        el("span", { class: "who", title: `to ${m.to}` }, `${m.sender} → ${this.describe(m.to)}`),
        m.via ? el("span", { class: "via", title: `came in over ${m.via}` }, icon("radio"), "radio") : null,
        this.delivery(m),
        el("time", {}, hms(m.ts))),
      el("div", { class: "message-text" }, m.text))));
    if (atBottom) this.list.scrollTop = this.list.scrollHeight;
  }
}

const num = (v, digits, unit) => (typeof v === "number" ? `${v.toFixed(digits)}${unit === "°" ? "" : " "}${unit}` : null);

// "entry + exit (units)" for a geofence marker, null for any other.
function fenceRules(e) {
  const rules = [e.fence_entry && "entry", e.fence_exit && "exit"].filter(Boolean).join(" + ");
  return rules ? `${rules} (${e.fence_for})` : null;
}

// Rows [label, value] for one entity, leaving out what it does not report.
function rows(e) {
  if (e.kind === "vehicle") return vehicleRows(e).filter(([, value]) => value !== null && value !== undefined && value !== "");
  const pos = e.pos;
  const common = [
    ["Name", e.name || "—"],
    ["ID", e.id],
    ["Kind", t(e.kind)],
    ["Position", pos ? formatPosition(pos.lat, pos.lon) : "unknown"],
    ["Altitude MSL", pos && num(pos.alt_msl_m, 1, "m")],
    ["Altitude rel.", pos && num(pos.alt_rel_m, 1, "m")],
  ];
  const speed = (v) => (typeof v === "number" ? `${v.toFixed(1)} m/s (${(v * 3.6).toFixed(0)} km/h)` : null);
  const heading = (v) => num(v, 0, "°");
  const battery = (pct) => num(pct, 0, "%");
  const byKind = {
    unit: [["Team", e.team], ["Talkgroup", e.talkgroup], ["Presence", e.online === false ? t("offline") : t("online")],
      ["Talking", e.talking ? t("yes") : null], ["Status", e.status], ["Speed", speed(e.speed_mps)],
      ["Heading", heading(e.heading_deg)], ["Battery", battery(e.battery_pct)],
      ["Emergency", e.emergency ? "YES" : null]],
    feed: [["State", e.error ? `${e.state} — ${e.error}` : e.state], ["Source", e.source], ["Codec", e.codec],
      ["Video", e.width && e.height ? `${e.width}×${e.height}${e.fps ? ` @ ${e.fps} fps` : ""}` : null],
      ["Bitrate", e.bitrate_kbps ? `${Math.round(e.bitrate_kbps)} kbit/s` : null],
      ["Viewers", e.viewers], ["Vehicle", e.vehicle_id], ["Heading", heading(e.heading_deg)],
      ["Recording", e.recording ? "yes" : null]],
    node: [["Role", e.role], ["Version", e.version],
      ["Components", Object.entries(e.components || {}).map(([k, v]) => `${k}: ${v}`).join(", ") || null]],
    marker: [["Shape", e.shape], ["Points", (e.points || []).length], ["Radius", num(e.radius_m, 0, "m")],
      ["Colour", e.color], ["Category", e.category],
      ["Geofence", fenceRules(e)]],
  };
  return [...common, ...(byKind[e.kind] || []), ["Origin", e.origin], ["Last heard", `${ago(e.ts)} (${hms(e.ts)})`]]
    .filter(([, value]) => value !== null && value !== undefined && value !== "");
}

export class DetailPanel {
  // actions: { track(id) resolves to a status text, close() }
  constructor(root, actions) {
    this.box = root.querySelector("#detail");
    this.empty = root.querySelector("#detail-empty");
    this.fields = root.querySelector("#detail-fields");
    this.trackStatus = root.querySelector("#track-status");
    this.entity = null;
    root.querySelector("#track-btn").addEventListener("click", async () => {
      if (!this.entity) return;
      this.trackStatus.textContent = "loading…";
      this.trackStatus.textContent = await actions.track(this.entity.id);
    });
    root.querySelector("#detail-close").addEventListener("click", () => actions.close());
  }

  show(entity) {
    if (!entity || !this.entity || entity.id !== this.entity.id) this.trackStatus.textContent = "";
    this.entity = entity;
    this.box.hidden = !entity;
    this.empty.hidden = Boolean(entity);
    this.refresh();
  }

  gone(id) {
    if (this.entity && this.entity.id === id) {
      this.entity = { ...this.entity, removed: true };
      this.refresh();
    }
  }

  refresh() {
    if (!this.entity) return;
    const list = rows(this.entity).map(([k, v]) => [el("dt", {}, t(k)), el("dd", {}, v)]).flat();
    if (this.entity.removed) list.unshift(el("dt", {}, t("Note")), el("dd", { class: "warn" }, t("removed from the picture")));
    this.fields.replaceChildren(...list);
  }
}
