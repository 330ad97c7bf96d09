// WGS-84 <-> GCJ-02 (the offset datum of AMap and other Chinese web maps), twin of edge/gcj02.py.
// Used as a Leaflet CRS: with a GCJ-02 basemap every position the page draws is shifted on the way to
// pixels and every click shifted back, so the scene and the API stay WGS-84.
/* global L */

const A = 6378245.0; // Krasovsky 1940 semi-major axis, as the published formula uses
const EE = 0.00669342162296594323;

export function outsideChina(lat, lon) {
  return !(lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271);
}

function shiftLat(x, y) {
  let s = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  s += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0;
  s += ((20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin((y / 3.0) * Math.PI)) * 2.0) / 3.0;
  s += ((160.0 * Math.sin((y / 12.0) * Math.PI) + 320.0 * Math.sin((y * Math.PI) / 30.0)) * 2.0) / 3.0;
  return s;
}

function shiftLon(x, y) {
  let s = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  s += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0;
  s += ((20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin((x / 3.0) * Math.PI)) * 2.0) / 3.0;
  s += ((150.0 * Math.sin((x / 12.0) * Math.PI) + 300.0 * Math.sin((x / 30.0) * Math.PI)) * 2.0) / 3.0;
  return s;
}

// Where a GCJ-02 map shows the WGS-84 point [lat, lon].
export function toGcj02(lat, lon) {
  if (outsideChina(lat, lon)) return [lat, lon];
  let dlat = shiftLat(lon - 105.0, lat - 35.0);
  let dlon = shiftLon(lon - 105.0, lat - 35.0);
  const rad = (lat / 180.0) * Math.PI;
  const magic = 1 - EE * Math.sin(rad) ** 2;
  dlat = (dlat * 180.0) / (((A * (1 - EE)) / (magic * Math.sqrt(magic))) * Math.PI);
  dlon = (dlon * 180.0) / ((A / Math.sqrt(magic)) * Math.cos(rad) * Math.PI);
  return [lat + dlat, lon + dlon];
}

// The WGS-84 point a GCJ-02 map shows at [lat, lon]: no closed form, so iterate the forward map.
export function toWgs84(lat, lon, toleranceDeg = 1e-10) {
  let [wlat, wlon] = [lat, lon];
  for (let i = 0; i < 30; i++) {
    const [glat, glon] = toGcj02(wlat, wlon);
    const [dlat, dlon] = [lat - glat, lon - glon];
    wlat += dlat;
    wlon += dlon;
    if (Math.abs(dlat) < toleranceDeg && Math.abs(dlon) < toleranceDeg) break;
  }
  return [wlat, wlon];
}

const mercator = L.Projection.SphericalMercator;

// Web Mercator of the GCJ-02 position: tiles of a GCJ-02 map line up, and map.mouseEventToLatLng,
// getCenter and the like answer in WGS-84.
export const GCJ02_CRS = L.extend({}, L.CRS.EPSG3857, {
  code: "GCJ02",
  projection: {
    bounds: mercator.bounds,
    project(latlng) {
      const [lat, lon] = toGcj02(latlng.lat, latlng.lng);
      return mercator.project(L.latLng(lat, lon));
    },
    unproject(point) {
      const shown = mercator.unproject(point);
      const [lat, lon] = toWgs84(shown.lat, shown.lng);
      return L.latLng(lat, lon);
    },
  },
});
