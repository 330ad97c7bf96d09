// The command-post page: token, live picture over /api/live, header, and wiring of map and panels.
import { EntityLayers, addBasemap, createMap } from "./map.js";
import { AlertPanel, DetailPanel, MessagePanel } from "./panels.js";
import { api, clock, setToken } from "./util.js";

const KINDS = ["unit", "vehicle", "feed", "node", "marker"];
const TOKEN_KEY = "fieldkit.token";
const CLOSE_UNAUTHORIZED = 4401; // edge/api/live.py
const STALE_AFTER_S = 120;
const TRACK_WINDOW_S = 30 * 60;
const MAX_BACKOFF_S = 30;

const $ = (id) => document.getElementById(id);

const picture = { entities: new Map(), fitted: false };
const link = { token: null, socket: null, backoff: 1, retry: null, countdown: null };

const map = createMap($("map"));
const layers = new EntityLayers(map, select);
const alerts = new AlertPanel($("alerts-panel"), {
  ack: (id) => api("POST", `/api/alerts/${encodeURIComponent(id)}/ack`),
  clear: (id) => api("POST", `/api/alerts/${encodeURIComponent(id)}/clear`),
  locate: locateAlert,
});
const messages = new MessagePanel($("messages-panel"), (to, text) => api("POST", "/api/messages", { to, text }));
const detail = new DetailPanel($("detail-panel"), { track: showTrack, close: () => select(null) });

// --- the token: from the URL fragment once, then this tab's sessionStorage ---

function takeToken() {
  const params = new URLSearchParams(location.hash.slice(1));
  const fromUrl = params.get("token");
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    params.delete("token");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
  }
  return fromUrl || sessionStorage.getItem(TOKEN_KEY);
}

function askForToken(reason) {
  disconnect();
  sessionStorage.removeItem(TOKEN_KEY);
  setConnection("signed-out", "no token");
  $("token-error").textContent = reason || "";
  $("token-error").hidden = !reason;
  $("token-gate").hidden = false;
  $("token-input").focus();
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = $("token-input").value.trim();
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  $("token-input").value = "";
  $("token-gate").hidden = true;
  start(token);
});

$("sign-out").addEventListener("click", () => askForToken(""));

function start(token) {
  link.token = token;
  setToken(token, () => askForToken("The node did not accept this token."));
  connect();
}

// --- the live socket: snapshot, then deltas; reconnect with backoff and jitter ---

function connect() {
  clearTimeout(link.retry);
  clearInterval(link.countdown);
  setConnection("connecting", "connecting…");
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/api/live`);
  link.socket = socket;
  socket.onopen = () => socket.send(JSON.stringify({ token: link.token }));
  socket.onmessage = (event) => receive(JSON.parse(event.data));
  socket.onclose = (event) => {
    if (link.socket !== socket) return; // replaced or signed out on purpose
    link.socket = null;
    if (event.code === CLOSE_UNAUTHORIZED) askForToken("The node rejected this token.");
    else reconnectLater();
  };
}

function disconnect() {
  clearTimeout(link.retry);
  clearInterval(link.countdown);
  const socket = link.socket;
  link.socket = null;
  if (socket) socket.close();
}

function reconnectLater() {
  const delay = Math.min(MAX_BACKOFF_S, link.backoff) * (0.75 + Math.random() * 0.5);
  link.backoff = Math.min(MAX_BACKOFF_S, link.backoff * 2);
  const due = performance.now() + delay * 1000;
  const show = () => {
    const left = Math.max(0, Math.ceil((due - performance.now()) / 1000));
    setConnection("offline", `offline · reconnecting in ${left} s`);
  };
  show();
  link.countdown = setInterval(show, 1000);
  link.retry = setTimeout(connect, delay * 1000);
}

function receive(message) {
  if (message.type === "snapshot") {
    link.backoff = 1;
    applySnapshot(message.data);
    setConnection("live", message.resync ? "live (resynced)" : "live");
  } else if (message.type === "deltas") {
    for (const delta of message.data) applyDelta(delta);
    updateCounts();
  }
}

function applySnapshot(snapshot) {
  clock.set(snapshot.ts);
  picture.entities = new Map(snapshot.entities.map((e) => [e.id, e]));
  layers.retain(new Set(picture.entities.keys()));
  for (const entity of snapshot.entities) layers.upsert(entity);
  if (!picture.fitted) {
    picture.fitted = true;
    layers.fitTo(snapshot.entities);
  }
  alerts.replace(snapshot.alerts);
  messages.replace(snapshot.messages);
  const selected = layers.selected;
  if (selected) {
    if (picture.entities.has(selected)) detail.show(picture.entities.get(selected));
    else detail.gone(selected);
  }
  updateCounts();
}

function applyDelta(delta) {
  if (delta.op === "state") applyState(delta.value);
  else if (delta.op === "event") applyEvent(delta.value);
  else if (delta.op === "reminder") alerts.upsert(delta.alert, { flash: true });
  // "resync": a fresh snapshot follows
}

function applyState(value) {
  clock.observe(value.ts);
  if (value.kind === "removed") {
    picture.entities.delete(value.id);
    layers.remove(value.id);
    detail.gone(value.id);
    return;
  }
  picture.entities.set(value.id, value);
  layers.upsert(value);
  if (value.id === layers.selected) detail.show(value);
}

function applyEvent(event) {
  clock.observe(event.ts);
  if (event.kind === "message") messages.add(event);
  else if (event.kind.startsWith("alert") && !alerts.applyEvent(event)) refetchAlerts();
}

async function refetchAlerts() {
  try {
    alerts.replace(await api("GET", "/api/alerts"));
  } catch (error) {
    alerts.showError(`Could not reload alerts: ${error.message}`);
  }
}

// --- selection, tracks, alerts on the map ---

function select(id) {
  layers.select(id);
  if (!id) layers.showTrack(null);
  detail.show(id ? picture.entities.get(id) || null : null);
}

async function showTrack(id) {
  const since = Math.max(0, clock.now() - TRACK_WINDOW_S);
  try {
    const points = await api("GET", `/api/entities/${encodeURIComponent(id)}/track?since=${since.toFixed(3)}`);
    layers.showTrack(points);
    return points.length ? `${points.length} points in the last 30 min` : "no positions stored in the last 30 min";
  } catch (error) {
    return `track unavailable: ${error.message}`;
  }
}

function locateAlert(alert) {
  const entity = alert.entity_id ? picture.entities.get(alert.entity_id) : null;
  const pos = (entity && entity.pos) || alert.pos;
  if (pos) layers.focus(pos.lat, pos.lon);
  if (entity) select(entity.id);
}

// --- header ---

function setConnection(state, text) {
  const badge = $("conn");
  badge.dataset.state = state;
  badge.textContent = text;
}

let countsQueued = false;
function updateCounts() {
  if (countsQueued) return;
  countsQueued = true;
  requestAnimationFrame(() => {
    countsQueued = false;
    const counts = Object.fromEntries(KINDS.map((k) => [k, 0]));
    for (const e of picture.entities.values()) if (e.kind in counts) counts[e.kind] += 1;
    for (const kind of KINDS) $(`count-${kind}`).textContent = String(counts[kind]);
  });
}

async function showNodeName() {
  try {
    const response = await fetch("/healthz");
    if (response.ok) $("node-name").textContent = (await response.json()).node_id;
  } catch {
    // the connection badge already says what is wrong
  }
}

setInterval(() => {
  detail.refresh();
  layers.markStale(clock.now(), STALE_AFTER_S);
}, 1000);

addBasemap(map);
showNodeName();
updateCounts();
const token = takeToken();
if (token) start(token);
else askForToken("");
