// The Log tab: one chronological list of alerts, acknowledgements, messages, calls, drone commands and
// operator actions from the journal (GET /api/log), filtered by kind and text, exported as CSV.
import { t } from "./i18n.js";
import { api, bearer, el, hms } from "./util.js";

const KINDS = ["alert", "ack", "clear", "message", "receipt", "call", "command", "action"];
const REFRESH_MS = 5000;

export class IncidentLog {
  constructor(root, tab) {
    this.root = root;
    this.list = root.querySelector("#log");
    this.kind = root.querySelector("#log-kind");
    this.text = root.querySelector("#log-filter");
    this.error = root.querySelector("#log-error");
    this.exportButton = root.querySelector("#log-export");
    this.busy = false;
    this.kind.addEventListener("change", () => this.load());
    let typing = null;
    this.text.addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(() => this.load(), 250);
    });
    this.exportButton.addEventListener("click", () => this.export());
    tab.addEventListener("click", () => this.load());
    document.addEventListener("languagechange", () => this.relabel());
    setInterval(() => { if (!this.root.hidden) this.load(); }, REFRESH_MS);
    this.relabel();
  }

  relabel() {
    const chosen = this.kind.value;
    this.kind.replaceChildren(new Option(t("log.all"), ""), ...KINDS.map((k) => new Option(t(`log.kind.${k}`), k)));
    this.kind.value = chosen;
    if (!this.root.hidden) this.load();
  }

  query() {
    const params = new URLSearchParams();
    if (this.kind.value) params.append("kind", this.kind.value);
    if (this.text.value.trim()) params.set("q", this.text.value.trim());
    return params;
  }

  async load() {
    if (this.busy) return;
    this.busy = true;
    try {
      const params = this.query();
      params.set("limit", "500");
      this.render(await api("GET", `/api/log?${params}`));
      this.showError("");
    } catch (error) {
      this.showError(t("log.failed", { reason: error.message }));
    } finally {
      this.busy = false;
    }
  }

  render(lines) {
    const items = lines.slice().reverse().map((line) => el("li", { class: `log-line k-${line.kind}`, "data-log-id": line.id },
      el("time", { title: line.time_utc }, hms(line.ts)),
      el("span", { class: "log-kind" }, t(`log.kind.${line.kind}`)),
      el("span", { class: "log-who" }, line.who),
      el("span", { class: "log-what" }, line.what),
      line.target ? el("span", { class: "log-target" }, line.target) : null));
    this.list.replaceChildren(...items);
    this.root.querySelector("#log-empty").hidden = items.length > 0;
  }

  // The bearer token cannot ride on a plain link, so the CSV is fetched and handed over as a file.
  async export() {
    this.exportButton.disabled = true;
    try {
      const response = await fetch(`/api/log.csv?${this.query()}`, { headers: bearer() });
      if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
      const name = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
      const url = URL.createObjectURL(await response.blob());
      const link = el("a", { href: url, download: name ? name[1] : "incident-log.csv" });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      this.showError("");
    } catch (error) {
      this.showError(t("log.failed", { reason: error.message }));
    } finally {
      this.exportButton.disabled = false;
    }
  }

  showError(text) {
    this.error.textContent = text;
    this.error.hidden = !text;
  }
}
