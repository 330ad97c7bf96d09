// Video: tiles playing feeds over WHEP (one RTCPeerConnection per tile), and camera cones on the map.
// The node relays encoded H.264 to every viewer, so a tile costs the kit no encoding. Paths name a feed
// by its id (feed:<node>:<name>): a command post serves another kit's feed over the mesh, live while
// watched; a tile whose live video cannot play (a narrowband link to that kit) shows its newest snapshot.
import { t } from "./i18n.js";
import { el, send } from "./util.js";

// Words for what the node says about a feed and for its profiles (media/feed.py, media/config.py).
const FEED_STATES = new Set(["live", "stalled", "waiting", "starting", "error"]); // words.js: video.state.*
const stateWord = (state) => (FEED_STATES.has(state) ? t(`video.state.${state}`) : state || "");
const profileWord = (p) => (p === "main" ? t("video.full") : p === "low" ? t("video.low") : p);

const GATHER_TIMEOUT_MS = 2000;
const RETRY_MS = 3000;
const SNAPSHOT_EVERY_MS = 5000;
const MAX_TILES = 4;

const feedName = (id) => id.split(":").slice(2).join(":");
const feedPath = (id) => `/api/feeds/${encodeURIComponent(id)}`;

// Wait until the browser has gathered its ICE candidates (WHEP here is non-trickle), or give up waiting.
function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState === "complete") resolve();
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, GATHER_TIMEOUT_MS);
  });
}

class Tile {
  constructor(feed, onClose) {
    this.id = feed.id;
    this.video = el("video", { autoplay: true, muted: true, playsinline: true });
    this.video.muted = true;
    this.still = el("img", { class: "still", alt: "", hidden: true });
    this.state = el("span", { class: "state" });
    this.profile = "main";
    this.profiles = el("select", { class: "profile", "aria-label": t("video.quality"), "data-i18n-label": "video.quality",
      hidden: true,
      onchange: () => this.switchTo(this.profiles.value) });
    this.title = el("span", { class: "title" });
    this.note = el("p", { class: "note", hidden: true });
    this.root = el("figure", { class: "tile", "data-feed-id": feed.id },
      el("figcaption", {}, this.title, this.profiles, this.state,
        el("button", { type: "button", class: "quiet", "aria-label": t("video.close"), "data-i18n-label": "video.close",
          title: t("video.close"), "data-i18n-title": "video.close", onclick: () => onClose(this.id) }, "×")),
      this.video, this.still, this.note);
    this.closed = false;
    this.noteWords = null; // [key, vars] of the note shown, re-said when the language changes
    this.relabel = () => {
      this.shownProfiles = null;
      this.update(this.feed);
      if (this.noteWords) this.showNote(...this.noteWords);
    };
    document.addEventListener("languagechange", this.relabel);
    this.update(feed);
    this.connect();
    // Frames decoded so far, on the tile for anyone inspecting the page (and the page tests).
    this.stats = setInterval(async () => {
      this.root.dataset.framesDecoded = String(await this.framesDecoded());
    }, 1000);
  }

  update(feed) {
    this.feed = feed;
    this.title.textContent = feed.name || feedName(feed.id);
    this.state.textContent = stateWord(feed.state);
    this.root.dataset.state = feed.state;
    const profiles = feed.profiles || [];
    if (profiles.join() !== this.shownProfiles) {
      this.shownProfiles = profiles.join();
      this.profiles.replaceChildren(...profiles.map((p) => el("option", { value: p, selected: p === this.profile },
        profileWord(p))));
      this.profiles.hidden = profiles.length < 2;
    }
  }

  // A narrow-link variant (encoded once on the kit for everyone who picks it), or back to full quality.
  switchTo(profile) {
    this.profile = profile;
    this.hangUp();
    this.connect();
  }

  async connect() {
    if (this.closed) return;
    const pc = new RTCPeerConnection();
    this.pc = pc;
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addEventListener("track", (event) => {
      this.video.srcObject = event.streams[0] || new MediaStream([event.track]);
      this.video.hidden = false;
      this.still.hidden = true;
      this.showNote(null);
    });
    pc.addEventListener("connectionstatechange", () => {
      if (pc.connectionState === "failed" && this.pc === pc) this.retry(t("video.failed"));
    });
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      const path = `${feedPath(this.id)}/whep?profile=${encodeURIComponent(this.profile)}`;
      const response = await send("POST", path, pc.localDescription.sdp, "application/sdp");
      this.location = response.headers.get("Location");
      await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
    } catch (error) {
      if (error.status === 404) this.fallBack("video.remote");
      else if (error.status === 409) this.fallBack("video.narrow"); // a narrowband link: snapshots only
      else this.retry(error.message);
    }
  }

  retry(reason) {
    this.hangUp();
    if (this.closed) return;
    this.showNote("video.retrying", { reason });
    this.timer = setTimeout(() => this.connect(), RETRY_MS);
  }

  // No live video here: show the newest snapshot, refreshed while the tile is open.
  fallBack(why) {
    this.hangUp();
    this.showNote(why);
    this.video.hidden = true;
    const path = `${feedPath(this.id)}/snapshot.jpg`;
    const load = async () => {
      try {
        const blob = await (await send("GET", path)).blob();
        if (this.still.src) URL.revokeObjectURL(this.still.src);
        this.still.src = URL.createObjectURL(blob);
        this.still.hidden = false;
      } catch {
        // no snapshot yet; try again later
      }
    };
    load();
    this.timer = setInterval(load, SNAPSHOT_EVERY_MS);
  }

  // A note under the video by its word key (null clears it).
  showNote(key, vars = {}) {
    this.noteWords = key ? [key, vars] : null;
    this.note.textContent = key ? t(key, vars) : "";
    this.note.hidden = !key;
  }

  hangUp() {
    clearTimeout(this.timer);
    clearInterval(this.timer);
    if (this.location) send("DELETE", this.location).catch(() => {});
    this.location = null;
    if (this.pc) this.pc.close();
    this.pc = null;
  }

  close() {
    this.closed = true;
    clearInterval(this.stats);
    document.removeEventListener("languagechange", this.relabel);
    this.hangUp();
    if (this.still.src) URL.revokeObjectURL(this.still.src);
    this.root.remove();
  }

  // For tests and the status line: frames the browser decoded so far.
  async framesDecoded() {
    if (!this.pc) return 0;
    let frames = 0;
    (await this.pc.getStats()).forEach((report) => {
      if (report.type === "inbound-rtp" && report.kind === "video") frames = report.framesDecoded || 0;
    });
    return frames;
  }
}

export class VideoWall {
  constructor(root) {
    this.root = root;
    this.tiles = new Map();
  }

  open(feed) {
    if (this.tiles.has(feed.id)) return this.tiles.get(feed.id);
    if (this.tiles.size >= MAX_TILES) this.close(this.tiles.keys().next().value);
    const tile = new Tile(feed, (id) => this.close(id));
    this.tiles.set(feed.id, tile);
    this.root.append(tile.root);
    this.root.hidden = false;
    return tile;
  }

  upsert(feed) {
    const tile = this.tiles.get(feed.id);
    if (tile) tile.update(feed);
  }

  close(id) {
    const tile = this.tiles.get(id);
    if (!tile) return;
    tile.close();
    this.tiles.delete(id);
    this.root.hidden = this.tiles.size === 0;
  }

  closeAll() {
    for (const id of [...this.tiles.keys()]) this.close(id);
  }
}

// Where each camera looks: a wedge from its position along its heading, as wide as its field of view.
export class FeedCones {
  constructor(map, onClick) {
    this.map = map;
    this.onClick = onClick;
    this.cones = new Map();
  }

  upsert(feed) {
    if (!feed.pos || feed.heading_deg === null || feed.heading_deg === undefined || !feed.fov_deg) {
      this.remove(feed.id);
      return;
    }
    const points = wedge(feed.pos.lat, feed.pos.lon, feed.heading_deg, feed.fov_deg, feed.range_m || 300);
    let cone = this.cones.get(feed.id);
    if (!cone) {
      cone = L.polygon(points, { className: "fk-cone", weight: 1, fillOpacity: 0.18, interactive: true });
      cone.on("click", () => this.onClick(feed.id));
      cone.addTo(this.map);
      this.cones.set(feed.id, cone);
      const path = cone.getElement();
      if (path) path.setAttribute("data-feed-id", feed.id);
    } else {
      cone.setLatLngs(points);
    }
    cone.setStyle({ color: feed.thermal ? "#d9480f" : "#1c7ed6" });
  }

  remove(id) {
    const cone = this.cones.get(id);
    if (cone) cone.remove();
    this.cones.delete(id);
  }

  retain(ids) {
    for (const id of [...this.cones.keys()]) if (!ids.has(id)) this.remove(id);
  }
}

// A fan of points: the apex, then an arc of `range` metres from heading - fov/2 to heading + fov/2.
function wedge(lat, lon, heading, fov, range) {
  const points = [[lat, lon]];
  const mPerDegLat = 111320;
  const mPerDegLon = 111320 * Math.cos((lat * Math.PI) / 180) || 1;
  for (let i = 0; i <= 8; i += 1) {
    const bearing = ((heading - fov / 2 + (fov * i) / 8) * Math.PI) / 180;
    points.push([lat + (range * Math.cos(bearing)) / mPerDegLat, lon + (range * Math.sin(bearing)) / mPerDegLon]);
  }
  return points;
}
