// Helpers shared by the page's modules: building DOM safely, the node's clock, the REST client.

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
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

const auth = { token: null, onUnauthorized: () => {} };

export function setToken(token, onUnauthorized) {
  auth.token = token;
  if (onUnauthorized) auth.onUnauthorized = onUnauthorized;
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
    throw new ApiError(response.status, detail);
  }
  return data;
}
