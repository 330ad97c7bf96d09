// An alert cannot be missed: while any alert is raised and not acknowledged, a banner flashes over the
// map, the tab title counts them and a WebAudio beep repeats (double for an emergency). Keyboard:
// A acknowledges the newest raised alert, C centres the map on it (or on the newest open one).
// While the timeline shows the past, the alert panel holds the past's alerts: the alarm then asks the
// node for the alerts raised now, so a new alarm is not missed by someone looking back.
import { t } from "./i18n.js";

const BEEP_EVERY_MS = 2500;
const POLL_WHILE_REPLAYING_MS = 2000;
// Keys typed into these go to the field, not to the shortcuts (a slider or checkbox takes no letters).
const TEXT_INPUTS = new Set(["text", "search", "password", "number", "email", "url", "tel", "date", "time",
  "datetime-local", "month", "week"]);

function typingInto(target) {
  if (!target || !target.tagName) return false;
  if (target.isContentEditable || target.tagName === "TEXTAREA" || target.tagName === "SELECT") return true;
  return target.tagName === "INPUT" && TEXT_INPUTS.has(target.type);
}

export class Alarm {
  // actions: { ack(id) resolves to the new record, acked(record), locate(alert), failed(text), live() -> bool,
  //   raisedNow() resolves to the alert records raised now (GET /api/alerts?status=raised) }
  constructor(banner, actions) {
    this.banner = banner;
    this.actions = actions;
    this.open = []; // open alert records, newest first
    this.now = []; // while replaying: the alerts raised now, from the node
    this.audio = null;
    this.timer = null;
    this.beeps = 0;
    this.title = document.title;
    document.addEventListener("keydown", (event) => this.key(event));
    // Browsers start audio only after a gesture on the page: every one is a chance to unblock it.
    for (const kind of ["pointerdown", "keydown"]) document.addEventListener(kind, () => this.unblock(), true);
    document.addEventListener("languagechange", () => this.render());
    setInterval(() => this.poll(), POLL_WHILE_REPLAYING_MS);
  }

  async poll() {
    if (this.actions.live()) {
      this.now = [];
      return;
    }
    try {
      this.now = (await this.actions.raisedNow()).sort((a, b) => b.alert.ts - a.alert.ts);
    } catch {
      return; // the connection badge says what is wrong
    }
    if (!this.actions.live()) this.render();
  }

  // The open alerts, as the alert panel holds them (called on every change).
  update(open) {
    this.open = [...open].sort((a, b) => b.alert.ts - a.alert.ts);
    this.render();
  }

  raised() {
    return (this.actions.live() ? this.open : this.now).filter((r) => r.status === "raised");
  }

  render() {
    const raised = this.raised();
    const newest = raised[0];
    document.body.classList.toggle("alarm", Boolean(newest));
    this.banner.hidden = !newest;
    const base = document.title.replace(/^\(\d+\) ⚠ /, "");
    document.title = newest ? `(${raised.length}) ⚠ ${base}` : base;
    if (!newest) {
      this.silence();
      return;
    }
    this.banner.className = `alarm-banner sev-${newest.alert.severity}`;
    this.banner.dataset.newestAlert = newest.alert.id;
    this.banner.replaceChildren(
      Object.assign(document.createElement("strong"), { textContent: newest.alert.title }),
      Object.assign(document.createElement("span"), {
        className: "alarm-keys",
        textContent: t("alarm.keys", { count: raised.length }),
      }),
    );
    if (!this.timer) {
      this.beep();
      this.timer = setInterval(() => this.beep(), BEEP_EVERY_MS);
    }
  }

  silence() {
    clearInterval(this.timer);
    this.timer = null;
  }

  unblock() {
    if (this.audio && this.audio.state === "suspended") this.audio.resume().catch(() => {});
  }

  beep() {
    const newest = this.raised()[0];
    if (!newest) return;
    try {
      this.audio ||= new AudioContext();
    } catch {
      this.banner.dataset.sound = "unavailable";
      return;
    }
    this.banner.dataset.sound = this.audio.state; // "suspended" until someone touches the page
    if (this.audio.state !== "running") return;
    const times = newest.alert.severity === "emergency" ? [0, 0.3] : [0];
    for (const at of times) this.tone(this.audio.currentTime + at, newest.alert.severity === "info" ? 660 : 880);
    this.beeps += 1;
    this.banner.dataset.beeps = String(this.beeps);
  }

  tone(start, hz) {
    const osc = this.audio.createOscillator();
    const gain = this.audio.createGain();
    osc.frequency.value = hz;
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.3, start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.2);
    osc.connect(gain).connect(this.audio.destination);
    osc.start(start);
    osc.stop(start + 0.22);
  }

  key(event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    if (typingInto(event.target)) return;
    const key = event.key.toLowerCase();
    if (key === "a") this.acknowledgeNewest();
    else if (key === "c") this.centreNewest();
    else return;
    event.preventDefault();
  }

  async acknowledgeNewest() {
    const newest = this.raised()[0];
    if (!newest) return;
    try {
      this.actions.acked(await this.actions.ack(newest.alert.id));
      this.now = this.now.filter((r) => r.alert.id !== newest.alert.id);
      this.render();
    } catch (error) {
      this.actions.failed(t("alarm.ack_failed", { reason: error.message }));
    }
  }

  centreNewest() {
    const record = this.raised()[0] || this.open[0];
    if (record) this.actions.locate(record.alert);
  }
}
