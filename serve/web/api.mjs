// api.mjs — the API's URLs for a view state, and fetch with a count of requests in flight.

export let pending = 0;

export async function getJSON(url) {
  pending++;
  try {
    const r = await fetch(url, { headers: { Accept: 'application/json' } });
    if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
    return await r.json();
  } finally {
    pending--;
  }
}

function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v != null) p.set(k, v);
  return p.toString();
}

// filters are the parameters the tiles and the reports take.
export function filters(s) {
  return { category: s.category, side: s.side, partner: s.partner, violation: s.violation };
}

export function tileURL(s) {
  return `${location.origin}/v1/tiles/{z}/{x}/{y}.mvt?${qs({ from: s.from, to: s.to, ...filters(s) })}`;
}

export const adminURL = (level, s) => `/v1/admin/${level}.geojson?${qs({ from: s.from, to: s.to, zoom: 8 })}`;
export const zonesURL = (s) => `/v1/zones.geojson?${qs({ set: s.set, from: s.from, to: s.to, zoom: 8 })}`;
export const seriesURL = (id, s) => `/v1/zones/${encodeURIComponent(id)}/series?${qs({ bucket: 'week', from: s.from, to: s.to })}`;

export function reportsURL(s, extra) {
  return `/v1/reports?${qs({ from: s.from, to: s.to, ...filters(s), ...extra })}`;
}
