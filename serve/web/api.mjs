// api.mjs — the API's URLs for a view state, and fetch (with the read token) with a count of requests in flight.
import { token, headers, askToken } from './auth.mjs';
import { countOf } from './state.mjs';

export let pending = 0;

// get fetches url with the read token, asking for one (and retrying) while the answer is 401.
async function get(url, accept) {
  for (let sent = token(); ; sent = token()) {
    const r = await fetch(url, { headers: headers({ Accept: accept }) });
    if (r.status !== 401) return r;
    pending--; // not busy while the form waits
    try { await askToken(sent !== ''); } finally { pending++; }
  }
}

export async function getJSON(url) {
  pending++;
  try {
    const r = await get(url, 'application/json');
    if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
    return await r.json();
  } finally {
    pending--;
  }
}

// download saves the answer of url as name (a link cannot send the token).
export async function download(url, name) {
  const r = await get(url, 'application/geo+json');
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  const a = document.createElement('a');
  a.href = URL.createObjectURL(await r.blob());
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v != null) p.set(k, v);
  return p.toString();
}

// filters are the parameters the tiles and the reports take.
export function filters(s) {
  return { category: s.category, side: s.side, partner: s.partner, violation: s.violation, precision: s.precision };
}

// Counting incidents, the grid takes the filters the incident aggregate holds (no side or partner).
export function tileURL(s) {
  const f = countOf(s) === 'incidents' ? { measure: 'incidents', category: s.category, violation: s.violation, precision: s.precision } : filters(s);
  return `${location.origin}/v1/tiles/{z}/{x}/{y}.mvt?${qs({ from: s.from, to: s.to, ...f })}`;
}

// The choropleths take the filters their aggregates hold (zones: no violation class, it is per zone hit).
// Counting incidents, the same filters (their aggregates hold them too).
const areaFilters = (s, violation) => ({ measure: countOf(s) === 'incidents' ? 'incidents' : '',
  category: s.category, violation: violation ? s.violation : '', precision: s.precision });
export const adminURL = (level, s) => `/v1/admin/${level}.geojson?${qs({ from: s.from, to: s.to, zoom: 8, ...areaFilters(s, true) })}`;
export const zonesURL = (s) => `/v1/zones.geojson?${qs({ set: s.set, from: s.from, to: s.to, zoom: 8, ...areaFilters(s, false) })}`;
export const seriesURL = (id, s) => `/v1/zones/${encodeURIComponent(id)}/series?${qs({ bucket: 'week', from: s.from, to: s.to,
  measure: countOf(s) === 'incidents' ? 'incidents' : '' })}`;

export function reportsURL(s, extra) {
  return `/v1/reports?${qs({ from: s.from, to: s.to, ...filters(s), ...extra })}`;
}
