// WGS-84 latitude/longitude -> UTM -> MGRS (the grid reference NATO and many rescue services read out),
// checked against the `mgrs` Python package (GeoTrans) in tests/browser/test_coordinates.py.
// UTM by Krüger's series to n^4 (sub-millimetre within a zone); MGRS digits are truncated, as the standard says.

const A = 6378137.0; // WGS-84
const F = 1 / 298.257223563;
const K0 = 0.9996;
const N = F / (2 - F);
const RECTIFYING = (A / (1 + N)) * (1 + N ** 2 / 4 + N ** 4 / 64);
const ALPHA = [
  N / 2 - (2 * N ** 2) / 3 + (5 * N ** 3) / 16 + (41 * N ** 4) / 180,
  (13 * N ** 2) / 48 - (3 * N ** 3) / 5 + (557 * N ** 4) / 1440,
  (61 * N ** 3) / 240 - (103 * N ** 4) / 140,
  (49561 * N ** 4) / 161280,
];
const E2N = (2 * Math.sqrt(N)) / (1 + N); // the eccentricity, written through n
const BANDS = "CDEFGHJKLMNPQRSTUVWXX"; // 8° bands from 80°S; X stretches to 84°N
const COLUMNS = ["STUVWXYZ", "ABCDEFGH", "JKLMNPQR"]; // 100 km column letters by zone number mod 3
const ROWS = "ABCDEFGHJKLMNPQRSTUV"; // 100 km row letters, repeating every 2000 km

// The UTM zone of a point, with the Norway and Svalbard exceptions.
export function utmZone(lat, lon) {
  if (lat >= 56 && lat < 64 && lon >= 3 && lon < 12) return 32;
  if (lat >= 72 && lat < 84 && lon >= 0 && lon < 42) return [31, 33, 35, 37][Math.floor((lon + 3) / 12)];
  return Math.min(60, Math.floor((lon + 180) / 6) + 1);
}

// { zone, band, easting, northing } in metres (false easting 500 km; 10 000 km added south of the equator).
export function toUtm(lat, lon) {
  const zone = utmZone(lat, lon);
  const phi = (lat * Math.PI) / 180;
  const dlon = ((lon - ((zone - 1) * 6 - 180 + 3)) * Math.PI) / 180;
  const s = Math.sin(phi);
  const t = Math.sinh(Math.atanh(s) - E2N * Math.atanh(E2N * s));
  const xi = Math.atan2(t, Math.cos(dlon));
  const eta = Math.atanh(Math.sin(dlon) / Math.sqrt(1 + t * t));
  let x = eta;
  let y = xi;
  ALPHA.forEach((alpha, i) => {
    const j = 2 * (i + 1);
    x += alpha * Math.cos(j * xi) * Math.sinh(j * eta);
    y += alpha * Math.sin(j * xi) * Math.cosh(j * eta);
  });
  const easting = 500000 + K0 * RECTIFYING * x;
  const northing = K0 * RECTIFYING * y + (lat < 0 ? 10000000 : 0);
  return { zone, band: BANDS[Math.floor((lat + 80) / 8)], easting, northing };
}

// The MGRS reference of a point, e.g. "50SPF9295363767" (digits: 5 each = 1 m); null outside 80°S–84°N
// (the polar UPS grid is not drawn here).
export function toMgrs(lat, lon, digits = 5) {
  if (!(lat >= -80 && lat < 84) || !(lon >= -180 && lon <= 180)) return null;
  const { zone, band, easting, northing } = toUtm(lat, lon);
  const column = COLUMNS[zone % 3][Math.floor(easting / 100000) - 1];
  const row = ROWS[(Math.floor(northing / 100000) + (zone % 2 === 0 ? 5 : 0)) % 20];
  const unit = 10 ** (5 - digits);
  const part = (metres) => String(Math.floor((metres % 100000) / unit)).padStart(digits, "0");
  return `${String(zone).padStart(2, "0")}${band}${column}${row}${part(easting)}${part(northing)}`;
}

// "50S PF 92953 63767": the grid zone, the 100 km square, then easting and northing, as read out on the radio.
export function spacedMgrs(reference) {
  const m = /^(\d\d[A-Z])([A-Z]{2})(\d*)$/.exec(reference || "");
  if (!m) return reference;
  const half = m[3].length / 2;
  return [m[1], m[2], m[3].slice(0, half), m[3].slice(half)].filter(Boolean).join(" ");
}
