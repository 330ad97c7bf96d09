// Basemaps under the picture: the node's offline files and XYZ URL templates from /api/basemap, plus an
// offline grid that always works, in a layer control. A GCJ-02 basemap switches the map to GCJ02_CRS, so
// everything drawn is shifted for display and clicks come back as WGS-84 (the scene never sees GCJ-02).
/* global L */
import { GCJ02_CRS } from "./gcj02.js";
import { t } from "./i18n.js";

const STORE_KEY = "fieldkit.basemap";

// Neutral paper with a light grid and the corner coordinates of each tile: needs no network at all.
const GridBasemap = L.GridLayer.extend({
  createTile(coords) {
    const size = this.getTileSize();
    const canvas = document.createElement("canvas");
    canvas.width = size.x;
    canvas.height = size.y;
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#eef0ec";
    ctx.fillRect(0, 0, size.x, size.y);
    const line = (x0, y0, x1, y1) => {
      ctx.beginPath();
      ctx.moveTo(x0, y0);
      ctx.lineTo(x1, y1);
      ctx.stroke();
    };
    ctx.strokeStyle = "#e0e3de";
    for (let i = 64; i < size.x; i += 64) {
      line(i + 0.5, 0, i + 0.5, size.y);
      line(0, i + 0.5, size.x, i + 0.5);
    }
    ctx.strokeStyle = "#c8cdc6";
    line(0.5, 0, 0.5, size.y);
    line(0, 0.5, size.x, 0.5);
    const corner = this._map.unproject(coords.scaleBy(size), coords.z).wrap();
    ctx.fillStyle = "#98a096";
    ctx.font = "10px sans-serif";
    ctx.fillText(`${corner.lat.toFixed(4)}°, ${corner.lng.toFixed(4)}°`, 4, 12);
    return canvas;
  },
});

function crsOf(name) {
  return name === "gcj02" ? GCJ02_CRS : L.CRS.EPSG3857;
}

// Leaflet has no public way to change a map's CRS: set it and re-project every layer at the same view.
function useCrs(map, name) {
  const crs = crsOf(name);
  if (map.options.crs === crs) return;
  const center = map.getCenter(); // WGS-84 under either CRS
  map.options.crs = crs;
  map._resetView(center, map.getZoom(), true);
}

function tileLayer(info) {
  // Past a file's deepest zoom Leaflet scales its deepest tiles up instead of asking for missing ones.
  return L.tileLayer(info.tiles, {
    maxZoom: 20,
    minNativeZoom: info.min_zoom ?? 0,
    maxNativeZoom: info.max_zoom ?? 18,
    subdomains: info.subdomains || "abc",
    attribution: info.attribution || "",
    crs: info.crs || "wgs84",
  });
}

async function configured() {
  try {
    const response = await fetch("/api/basemap");
    if (response.ok) return (await response.json()).layers || [];
  } catch {
    // no answer: the grid still works
  }
  return [];
}

// Add the basemaps and their control to `map`; the one chosen last time (or the first configured) is shown.
export async function addBasemaps(map) {
  const layers = {};
  for (const info of await configured()) layers[info.name] = tileLayer(info);
  const gridName = t("basemap.grid");
  layers[gridName] = new GridBasemap({ attribution: t("basemap.grid"), crs: "wgs84" });
  const names = Object.keys(layers);
  const stored = localStorage.getItem(STORE_KEY);
  const chosen = names.includes(stored) ? stored : names[0];
  map.on("baselayerchange", (event) => {
    useCrs(map, event.layer.options.crs);
    localStorage.setItem(STORE_KEY, event.name);
  });
  useCrs(map, layers[chosen].options.crs);
  layers[chosen].addTo(map);
  if (names.length > 1) L.control.layers(layers, {}, { position: "topright", collapsed: true }).addTo(map);
  return layers;
}
