// How the page writes a position: decimal degrees (default) or MGRS, a setting kept in localStorage.
// Panels call formatPosition(); a readout on the map shows the pointer's position in the same form.
/* global L */
import { t } from "./i18n.js";
import { spacedMgrs, toMgrs } from "./mgrs.js";

const STORE_KEY = "fieldkit.coords";
const FORMATS = ["dd", "mgrs"];

let current = FORMATS.includes(localStorage.getItem(STORE_KEY)) ? localStorage.getItem(STORE_KEY) : "dd";

export function coordFormat() {
  return current;
}

// A WGS-84 position as the operator chose to read it; MGRS falls back to degrees near the poles.
export function formatPosition(lat, lon) {
  const degrees = `${lat.toFixed(5)}, ${lon.toFixed(5)}`;
  if (current !== "mgrs") return degrees;
  return spacedMgrs(toMgrs(lat, lon)) || degrees;
}

function setFormat(format) {
  if (!FORMATS.includes(format) || format === current) return;
  current = format;
  localStorage.setItem(STORE_KEY, format);
  document.dispatchEvent(new CustomEvent("coordschange", { detail: format }));
}

// A <select> in the header that chooses the format.
export function coordsPicker(select) {
  const fill = () => {
    select.replaceChildren(...FORMATS.map((format) => {
      const option = document.createElement("option");
      option.value = format;
      option.textContent = t(`coords.${format}`);
      return option;
    }));
    select.value = current;
  };
  fill();
  select.addEventListener("change", () => setFormat(select.value));
  document.addEventListener("languagechange", fill);
}

// The pointer's position in the bottom-left corner of the map (WGS-84 whatever the basemap's datum).
export function addPointerReadout(map) {
  const readout = L.control({ position: "bottomleft" });
  readout.onAdd = () => {
    const box = L.DomUtil.create("div", "fk-pointer leaflet-bar");
    box.id = "pointer-position";
    box.hidden = true;
    return box;
  };
  readout.addTo(map);
  const box = readout.getContainer();
  let last = null;
  const show = () => {
    box.hidden = !last;
    if (last) box.textContent = formatPosition(last.lat, last.lng);
  };
  map.on("mousemove", (event) => { last = event.latlng.wrap(); show(); });
  map.on("mouseout", () => { last = null; show(); });
  document.addEventListener("coordschange", show);
}
