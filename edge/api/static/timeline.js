// The timeline: a slider over the whole incident. Scrubbing shows the picture the journal held at
// that time (GET /api/replay?at=); play runs it forward at 1x-60x; "Live" returns to the live stream.
import { t } from "./i18n.js";
import { api, clock, hms } from "./util.js";

const SPEEDS = [1, 5, 10, 30, 60];
const TICK_MS = 250;
const SPAN_REFRESH_MS = 5000;
const DEFAULT_WINDOW_S = 3600; // before the span is known

export class Timeline {
  // hooks: { show(snapshot) draws a past picture, live() goes back to the live stream }
  constructor(root, hooks) {
    this.root = root;
    this.hooks = hooks;
    this.slider = root.querySelector("#timeline-slider");
    this.label = root.querySelector("#timeline-time");
    this.playButton = root.querySelector("#timeline-play");
    this.speed = root.querySelector("#timeline-speed");
    this.liveButton = root.querySelector("#timeline-live");
    this.start = null; // the first time the journal holds anything for
    this.at = null; // the time shown, null when live
    this.timer = null;
    this.busy = false;
    this.again = false;
    this.speed.replaceChildren(...SPEEDS.map((s) => new Option(`${s}×`, String(s))));
    this.slider.addEventListener("input", () => this.scrub(Number(this.slider.value)));
    this.playButton.addEventListener("click", () => (this.timer ? this.pause() : this.play()));
    this.liveButton.addEventListener("click", () => this.goLive());
    document.addEventListener("languagechange", () => this.render());
    setInterval(() => this.refresh(), SPAN_REFRESH_MS);
    this.render();
  }

  get replaying() {
    return this.at !== null;
  }

  // The time the page shows: the replayed one, or the node's now.
  now() {
    return this.at ?? clock.now();
  }

  async refresh() {
    try {
      this.start = (await api("GET", "/api/replay/span")).start;
    } catch {
      // the connection badge says what is wrong; the range stays as it was
    }
    this.render();
  }

  scrub(at) {
    this.at = Math.min(at, clock.now());
    this.render();
    this.load();
  }

  // One request at a time; a scrub during one asks again for the newest time when it ends.
  async load() {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    try {
      const at = this.at;
      const snapshot = await api("GET", `/api/replay?at=${at.toFixed(3)}`);
      if (this.at !== null) this.hooks.show(snapshot); // even if a newer time waits: playback must move
      this.root.dataset.shown = String(at);
      this.root.classList.remove("failed");
    } catch (error) {
      this.root.classList.add("failed");
      this.label.title = error.message;
    } finally {
      this.busy = false;
      const again = this.again && this.at !== null;
      this.again = false;
      if (again) this.load();
    }
  }

  play() {
    if (!this.replaying) this.at = this.start ?? clock.now() - DEFAULT_WINDOW_S;
    this.timer = setInterval(() => {
      const next = this.at + (Number(this.speed.value) * TICK_MS) / 1000;
      if (next >= clock.now()) this.goLive();
      else this.scrub(next);
    }, TICK_MS);
    this.scrub(this.at);
  }

  pause() {
    clearInterval(this.timer);
    this.timer = null;
    this.render();
  }

  goLive() {
    clearInterval(this.timer);
    this.timer = null;
    const was = this.replaying;
    this.at = null;
    this.render();
    if (was) this.hooks.live();
  }

  render() {
    const end = Math.ceil(clock.now());
    const start = Math.floor(Math.min(this.start ?? end - DEFAULT_WINDOW_S, end - 60));
    this.slider.min = String(start);
    this.slider.max = String(end);
    if (!this.replaying) this.slider.value = String(end);
    document.body.classList.toggle("replaying", this.replaying);
    this.root.dataset.mode = this.replaying ? "replay" : "live";
    this.label.textContent = this.replaying ? t("timeline.replay", { time: hms(this.at) }) : t("timeline.live");
    this.playButton.textContent = this.timer ? t("timeline.pause") : t("timeline.play");
    this.liveButton.disabled = !this.replaying;
  }
}
