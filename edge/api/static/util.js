// Helpers shared by the page's modules: building DOM safely, the node's clock, the REST client.
import { t } from "./i18n.js";

// Build an element; children that are not Nodes become text nodes, so server text is never parsed as HTML.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// The node's time, which may differ from the browser's (a simulation runs its clock faster): the
// snapshot sets it, later timestamps only move it forward, and it runs on by local time in between.
export const clock = {
  base: Date.now() / 1000,
  at: performance.now(),
  set(ts) {
    this.base = ts;
    this.at = performance.now();
  },
  observe(ts) {
    if (typeof ts === "number" && ts > this.now()) this.set(ts);
  },
  now() {
    return this.base + (performance.now() - this.at) / 1000;
  },
};

const pad = (n) => String(n).padStart(2, "0");

// HH:MM:SS in the browser's time zone.
export function hms(ts) {
  const d = new Date(ts * 1000);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// "12 s ago", "4 min ago", "3 h ago", measured on the node's clock.
export function ago(ts) {
  const s = Math.max(0, Math.round(clock.now() - ts));
  if (s < 120) return t("{n} s ago", { n: s });
  if (s < 7200) return t("{n} min ago", { n: Math.round(s / 60) });
  return t("{n} h ago", { n: Math.round(s / 3600) });
}

export class ApiError extends Error {
  // `data` is the parsed answer (null when there was none): a refused drone command carries its outcome.
  constructor(status, detail, data = null) {
    super(detail);
    this.status = status;
    this.data = data;
  }
}

const auth = { token: null, onUnauthorized: () => {} };

export function setToken(token, onUnauthorized) {
  auth.token = token;
  if (onUnauthorized) auth.onUnauthorized = onUnauthorized;
}

// The bearer header, for a request `api` cannot make (a file download).
export function bearer() {
  return { Authorization: `Bearer ${auth.token}` };
}

// Call the REST API with the bearer token; a failure throws ApiError carrying the server's `detail`.
export async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${auth.token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, "the node cannot be reached");
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    if (response.status === 401) auth.onUnauthorized();
    const detail = data && data.detail ? String(data.detail) : `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, detail, data);
  }
  return data;
}

// Send a non-JSON body (an SDP offer) with the bearer token; returns the raw Response, or throws ApiError.
export async function send(method, path, body, contentType) {
  const headers = { Authorization: `Bearer ${auth.token}` };
  if (contentType) headers["Content-Type"] = contentType;
  let response;
  try {
    response = await fetch(path, { method, headers, body });
  } catch {
    throw new ApiError(0, "the node cannot be reached");
  }
  if (!response.ok) {
    if (response.status === 401) auth.onUnauthorized();
    const data = await response.json().catch(() => null);
    const detail = data && data.detail ? String(data.detail) : `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, detail, data);
  }
  return response;
}

// "12 s", "4 min 05 s", "1 h 02 min".
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return t("{s} s", { s });
  if (s < 3600) return t("{m} min {s} s", { m: Math.floor(s / 60), s: pad(s % 60) });
  return t("{h} h {m} min", { h: Math.floor(s / 3600), m: pad(Math.floor((s % 3600) / 60)) });
}

// --- talkgroups: "9001 指挥 Command" and "9001" are the same group, keyed by the first token ---

const TALKGROUP_COLOURS = ["#1f6feb", "#2e8b57", "#8250df", "#0e8a9a", "#b7791f", "#c2417d", "#4a5568"];

export function talkgroupKey(talkgroup) {
  return String(talkgroup ?? "").trim().split(/\s+/)[0];
}

// One colour per talkgroup key, stable across page loads (and across the long and short spelling).
export function talkgroupColour(talkgroup) {
  let h = 0;
  for (const ch of talkgroupKey(talkgroup)) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return TALKGROUP_COLOURS[h % TALKGROUP_COLOURS.length];
}

// --- small inline icons (no emoji font is needed on the kit's browser) ---

const SVG_NS = "http://www.w3.org/2000/svg";
const ICON_PATHS = {
  // a loudspeaker with two sound waves
  speaker: [["path", { d: "M3 9h4l5-4v14l-5-4H3z" }],
    ["path", { d: "M15.5 9a4 4 0 0 1 0 6M18 6.5a7.5 7.5 0 0 1 0 11", fill: "none", stroke: "currentColor", "stroke-width": 2 }]],
  // a handheld radio with its antenna
  radio: [["path", { d: "M8 1v6", fill: "none", stroke: "currentColor", "stroke-width": 2 }],
    ["rect", { x: 6, y: 7, width: 12, height: 16, rx: 2 }],
    ["rect", { x: 8.5, y: 10, width: 7, height: 4, fill: "#fff" }]],
};

export function icon(name, title) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", `icon icon-${name}`);
  svg.setAttribute("fill", "currentColor");
  svg.setAttribute("aria-hidden", "true");
  for (const [tag, attrs] of ICON_PATHS[name]) {
    const part = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) part.setAttribute(k, v);
    svg.append(part);
  }
  if (title) {
    const t = document.createElementNS(SVG_NS, "title");
    t.textContent = title;
    svg.append(t);
  }
  return svg;
}
