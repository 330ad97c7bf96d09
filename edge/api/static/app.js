// The command-post page: token, live picture over /api/live, header, and wiring of map and panels.
import { Alarm } from "./alarm.js";
import { DrawTools } from "./draw.js";
import { DroneOverlays } from "./drones.js";
import { DronePanel } from "./dronepanel.js";
import { DroneList, LinkStatus } from "./fleet.js";
import { IncidentLog } from "./incidentlog.js";
import { addBasemaps } from "./basemaps.js";
import { addPointerReadout, coordsPicker } from "./coords.js";
import { KitMap } from "./kits.js";
import { EntityLayers, createMap } from "./map.js";
import { AlertPanel, DetailPanel, MessagePanel } from "./panels.js";
import { ActivityStrip, CallLog, radioId, recipientsOf } from "./radio.js";
import { RosterPanel } from "./roster.js";
import { Timeline } from "./timeline.js";
import { Trails } from "./trails.js";
import { languagePicker, t, translate } from "./i18n.js";
import { api, clock, setToken } from "./util.js";
import { FeedCones, VideoWall } from "./video.js";

const KINDS = ["unit", "vehicle", "feed", "node", "marker"];
const TOKEN_KEY = "fieldkit.token";
const CLOSE_UNAUTHORIZED = 4401; // edge/api/live.py
const STALE_AFTER_S = 120;
const TRACK_WINDOW_S = 30 * 60;
// A restarted node should be picked up within seconds; with ±25 % jitter, browsers still spread out.
const MAX_BACKOFF_S = 8;
const CALL_LOG_WINDOW_S = 6 * 3600;

const $ = (id) => document.getElementById(id);

const picture = { entities: new Map(), fitted: false };
const link = { token: null, socket: null, backoff: 1, retry: null, countdown: null };

const map = createMap($("map"));
const layers = new EntityLayers(map, select);
const alerts = new AlertPanel($("alerts-panel"), {
  ack: (id) => api("POST", `/api/alerts/${encodeURIComponent(id)}/ack`),
  clear: (id) => api("POST", `/api/alerts/${encodeURIComponent(id)}/clear`),
  locate: locateAlert,
  changed: (open) => alarm.update(open),
});
const alarm = new Alarm($("alarm-banner"), {
  ack: (id) => api("POST", `/api/alerts/${encodeURIComponent(id)}/ack`),
  acked: (record) => { if (!timeline.replaying) alerts.upsert(record); },
  locate: locateAlert,
  failed: (text) => alerts.showError(text),
  live: () => !timeline.replaying,
  raisedNow: () => api("GET", "/api/alerts?status=raised"),
});
const messages = new MessagePanel($("messages-panel"), (to, text) => api("POST", "/api/messages", { to, text }),
  describeRecipient);
const detail = new DetailPanel($("detail-panel"), { track: showTrack, close: () => select(null) });
const trails = new Trails(map);
const kits = new KitMap(map, $("detail"));
const roster = new RosterPanel($("roster-panel"), $("roster-count"), { select: (id) => select(id, { reveal: true }) });
const activity = new ActivityStrip($("activity-panel"), (id) => select(id, { reveal: true }));
const calls = new CallLog($("calls-panel"), { nameOf: nameOfUnit, select: (id) => select(id, { reveal: true }) });
const droneMarks = new DroneOverlays(map, (id) => select(id));
const dronePanel = new DronePanel($("drone-controls"), {
  map,
  send: (id, body) => api("POST", `/api/vehicles/${encodeURIComponent(id)}/commands`, body),
});
const fleet = new DroneList($("drones-panel"), $("drones-count"), { select: (id) => select(id, { reveal: true }) });
const mavlink = new LinkStatus($("mavlink"), () => api("GET", "/api/drones/links"));
const videoWall = new VideoWall($("video-dock"));
const cones = new FeedCones(map, (id) => select(id));
const draw = new DrawTools(map, $("draw-form"), $("marker-controls"), {
  create: (body) => api("POST", "/api/markers", body),
  edit: (id, body) => api("PUT", `/api/markers/${encodeURIComponent(id)}`, body),
  remove: (id) => api("DELETE", `/api/markers/${encodeURIComponent(id)}`),
});
new IncidentLog($("log-panel"), $("tab-log"));
const timeline = new Timeline($("timeline"), {
  show: (snapshot) => applySnapshot(snapshot, { replay: true }),
  live: () => { disconnect(); connect(); }, // a fresh snapshot brings the live picture back
});

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

// Why the node closed the live socket of a token that was good (edge/api/live.py).
const ENDED = {
  "token revoked": "This token was revoked by an administrator.",
  "token expired": "This token has expired.",
};

function askForToken(reason) {
  disconnect();
  videoWall.closeAll();
  mavlink.stop();
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
  delete document.body.dataset.role;
  dronePanel.resetRole(); // commands are offered to every token; a refusal (403) is shown, then remembered
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
    if (event.code === CLOSE_UNAUTHORIZED) askForToken(ENDED[event.reason] || "The node rejected this token.");
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
    setConnection("offline", t("offline · reconnecting in {left} s", { left }));
  };
  show();
  link.countdown = setInterval(show, 1000);
  link.retry = setTimeout(connect, delay * 1000);
}

// The laptop's own network came back: try now rather than at the end of the backoff.
window.addEventListener("online", () => {
  if (!link.socket && $("conn").dataset.state === "offline") connect();
});

function receive(message) {
  if (timeline.replaying) return; // the live picture comes back as a fresh snapshot
  if (message.type === "snapshot") {
    link.backoff = 1;
    applySnapshot(message.data);
    setConnection("live", message.resync ? "live (resynced)" : "live");
    timeline.refresh();
    mavlink.start(); // once the token is known to be good: a refused one is the live socket's to report
    if (!message.resync) {
      api("GET", "/api/whoami")
        .then((me) => {
          document.body.dataset.role = me.role; // a viewer (e.g. a shared view) gets no command buttons
          dronePanel.setRole(me.role);
          draw.setRole(me.role);
        })
        .catch(() => {}); // an older node without /api/whoami: a refusal (403) is still shown when it comes
    }
  } else if (message.type === "deltas") {
    for (const delta of message.data) applyDelta(delta);
    updateCounts();
  }
}

function applySnapshot(snapshot, { replay = false } = {}) {
  if (!replay) clock.set(snapshot.ts);
  picture.entities = new Map(snapshot.entities.map((e) => [e.id, e]));
  layers.retain(new Set(picture.entities.keys()));
  kits.retain(new Set(picture.entities.keys()));
  for (const entity of snapshot.entities) {
    layers.upsert(entity);
    kits.upsert(entity);
    if (!replay) showJournal(entity);
  }
  if (!picture.fitted) {
    picture.fitted = true;
    layers.fitTo(snapshot.entities);
  }
  alerts.replace(snapshot.alerts);
  messages.replace(snapshot.messages);
  applyRadioSnapshot(snapshot.entities);
  applyDroneSnapshot(snapshot.entities);
  applyFeedSnapshot(snapshot.entities);
  const selected = layers.selected;
  if (selected) {
    if (picture.entities.has(selected)) showDetail(picture.entities.get(selected));
    else gone(selected);
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
    gone(value.id);
    trails.remove(value.id);
    roster.remove(value.id);
    droneMarks.remove(value.id);
    fleet.remove(value.id);
    activity.forget(value.id);
    cones.remove(value.id);
    kits.remove(value.id);
    videoWall.close(value.id);
    radioChanged();
    return;
  }
  picture.entities.set(value.id, value);
  layers.upsert(value);
  if (value.id === layers.selected) showDetail(value);
  if (value.kind === "vehicle") {
    trails.observe(value);
    droneMarks.upsert(value);
    fleet.upsert(value);
  } else if (value.kind === "unit") {
    trails.observe(value);
    roster.upsert(value);
    activity.observe(value);
    radioChanged();
  } else if (value.kind === "node") {
    kits.upsert(value);
    showJournal(value);
  } else if (value.kind === "feed") {
    cones.upsert(value);
    videoWall.upsert(value);
  }
}

function applyEvent(event) {
  clock.observe(event.ts);
  if (event.kind === "message") messages.add(event);
  else if (event.kind === "receipt") messages.addReceipts([event]);
  else if (event.kind === "call") calls.merge([event]);
  else if (event.kind.startsWith("alert") && !alerts.applyEvent(event)) refetchAlerts();
}

async function refetchAlerts() {
  try {
    alerts.replace(await api("GET", "/api/alerts"));
  } catch (error) {
    alerts.showError(`Could not reload alerts: ${error.message}`);
  }
}

// --- radio: roster, who is on the air, call log, message recipients and receipts ---

function units() {
  return [...picture.entities.values()].filter((e) => e.kind === "unit");
}

function applyRadioSnapshot(entities) {
  const ids = new Set(entities.map((e) => e.id));
  trails.retain(ids);
  activity.retain(ids);
  const all = units();
  for (const unit of all) {
    trails.observe(unit);
    activity.observe(unit);
  }
  roster.replace(all);
  radioChanged();
  loadCalls();
  loadReceipts();
}

// Journaled calls and receipts from before the snapshot; later ones arrive live and are merged.
async function loadCalls() {
  const since = Math.max(0, clock.now() - CALL_LOG_WINDOW_S).toFixed(3);
  try {
    calls.merge(await api("GET", `/api/events?kind=call&newest_first=true&limit=50&since=${since}`));
    calls.showError("");
  } catch (error) {
    calls.showError(`Could not load the call log: ${error.message}`);
  }
}

async function loadReceipts() {
  const since = messages.receiptsSince();
  if (since === null) return;
  try {
    messages.addReceipts(await api("GET", `/api/events?kind=receipt&limit=5000&since=${Math.max(0, since - 1).toFixed(3)}`));
  } catch (error) {
    messages.showError(`Could not load delivery reports: ${error.message}`);
  }
}

let radioQueued = false;
function radioChanged() {
  if (radioQueued) return;
  radioQueued = true;
  requestAnimationFrame(() => {
    radioQueued = false;
    const all = units();
    activity.render(all);
    messages.setRecipients(recipientsOf(all));
  });
}

// --- drones: home and tether on the map, the Drones tab (their trails share the units') ---

function applyDroneSnapshot(entities) {
  const vehicles = entities.filter((e) => e.kind === "vehicle");
  droneMarks.retain(new Set(vehicles.map((v) => v.id)));
  for (const v of vehicles) {
    trails.observe(v);
    droneMarks.upsert(v);
  }
  fleet.replace(vehicles);
}

// --- video: camera cones on the map; selecting a feed, or a drone that carries one, plays it ---

function applyFeedSnapshot(entities) {
  const feeds = entities.filter((e) => e.kind === "feed");
  cones.retain(new Set(feeds.map((f) => f.id)));
  for (const feed of feeds) {
    cones.upsert(feed);
    videoWall.upsert(feed);
  }
}

function feedOf(entity) {
  if (!entity) return null;
  if (entity.kind === "feed") return entity;
  if (entity.kind !== "vehicle") return null;
  return [...picture.entities.values()].find((e) => e.kind === "feed" && e.vehicle_id === entity.id) || null;
}

function nameOfUnit(id) {
  const entity = picture.entities.get(id);
  return (entity && entity.name) || radioId(id);
}

function describeRecipient(to) {
  const entity = picture.entities.get(to);
  if (entity) return entity.name || to;
  const talkgroup = /^talkgroup:[^:]+:(.+)$/.exec(to);
  return talkgroup ? `TG ${talkgroup[1]}` : to;
}

// --- tabs under the detail panel: messages, roster, calls ---

for (const tab of document.querySelectorAll('#tabs [role="tab"]')) {
  tab.addEventListener("click", () => {
    for (const other of document.querySelectorAll('#tabs [role="tab"]')) {
      const chosen = other === tab;
      other.setAttribute("aria-selected", String(chosen));
      $(other.getAttribute("aria-controls")).hidden = !chosen;
    }
  });
}

// --- selection, tracks, alerts on the map ---

function select(id, { reveal = false } = {}) {
  layers.select(id);
  roster.select(id);
  fleet.select(id);
  if (!id) layers.showTrack(null);
  else if (reveal) layers.reveal(id);
  const entity = id ? picture.entities.get(id) || null : null;
  showDetail(entity);
  const feed = feedOf(entity);
  if (feed) videoWall.open(feed);
}

function showDetail(entity) {
  detail.show(entity);
  kits.show(entity);
  dronePanel.show(entity);
  draw.show(entity);
}

function gone(id) {
  detail.gone(id);
  dronePanel.gone(id);
}

async function showTrack(id) {
  const since = Math.max(0, clock.now() - TRACK_WINDOW_S);
  try {
    const points = await api("GET", `/api/entities/${encodeURIComponent(id)}/track?since=${since.toFixed(3)}`);
    layers.showTrack(points);
    return points.length ? t("{n} points in the last 30 min", { n: points.length }) : t("no positions stored in the last 30 min");
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
  badge.dataset.text = text;
  badge.textContent = t(text);
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

// This node's journal cannot store (disk full, read-only): say so in the bar, since every message or
// acknowledgement sent now is refused (503) until it can. Other kits' journals show in their health.
let ownNodeId = null;
function showJournal(entity) {
  if (entity.kind !== "node" || entity.id !== `node:${ownNodeId}`) return;
  const down = entity.components?.journal === "unavailable";
  $("journal").hidden = !down;
  $("journal").textContent = down ? t("journal cannot store: nothing new is accepted") : "";
}

async function showNodeName() {
  try {
    const response = await fetch("/healthz");
    if (response.ok) {
      const nodeId = (await response.json()).node_id;
      $("node-name").textContent = nodeId;
      ownNodeId = nodeId;
      const own = picture.entities.get(`node:${nodeId}`);
      if (own) showJournal(own);
      dronePanel.setNodeId(nodeId);
    }
  } catch {
    // the connection badge already says what is wrong
  }
}

setInterval(() => {
  detail.refresh();
  layers.markStale(timeline.now(), STALE_AFTER_S);
  roster.refresh();
  fleet.refresh();
  activity.render(units());
}, 1000);

languagePicker($("lang"));
translate();
document.addEventListener("languagechange", () => setConnection($("conn").dataset.state, $("conn").dataset.text));
addBasemaps(map);
addPointerReadout(map);
coordsPicker($("coords"));
document.addEventListener("coordschange", () => detail.refresh());
trails.addToggle();
showNodeName();
updateCounts();
const token = takeToken();
if (token) start(token);
else askForToken("");
