// incidents.mjs — incidents (reports of one event fused) as dots coloured by corroboration, their counts, and one incident's reports side by side.
import { getJSON } from './api.mjs';

const empty = { type: 'FeatureCollection', features: [] };

// corroborationColors: one partner, two or more, partners of both groups (the mechanism's sides).
export const corroborationColors = { single: '#9e9e9e', corroborated: '#e08214', cross_groups: '#2166ac' };

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text != null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

// addIncidents adds the incidents' source and layer (above the others) and returns refresh (the view's
// incidents and counts for the window), pick (opens the incident at a point, if any) and state (for tests).
// Without the incident endpoints (openapi lists none) there is nothing to show.
export function addIncidents(map, s, box, track, openapi) {
  if (!openapi?.paths?.['/v1/incidents']) return { refresh() {}, pick: () => false, open() {}, state: () => null };
  map.addSource('incidents', { type: 'geojson', data: empty });
  const color = ['match', ['get', 'corroboration']];
  for (const [k, c] of Object.entries(corroborationColors)) color.push(k, c);
  color.push('#000');
  map.addLayer({ id: 'incidents-dot', type: 'circle', source: 'incidents', minzoom: 8, paint: {
    'circle-color': color, 'circle-opacity': 0.9,
    'circle-radius': ['interpolate', ['linear'], ['get', 'reports'], 1, 5, 5, 10],
    'circle-stroke-color': ['case', ['get', 'contested'], '#b2182b', '#fff'],
    'circle-stroke-width': ['case', ['get', 'contested'], 2.5, 1] } });
  let counts = null, shown = null, gen = 0;

  function renderCounts() {
    box.replaceChildren();
    box.hidden = !counts;
    if (!counts) return;
    box.append(el('h2', 'incidents in the view'));
    const ul = el('ul');
    for (const [k, label] of [['incidents', 'incidents'], ['reports', 'reports in them'], ['single', 'one partner'],
      ['corroborated', 'two partners or more'], ['cross_groups', 'both sides of the mechanism'], ['contested', 'perpetrator contested']]) {
      const li = el('li', `${counts[k]} ${label}`);
      if (corroborationColors[k]) li.prepend(el('span', '', 'swatch'), ' ');
      if (corroborationColors[k]) li.firstChild.style.background = corroborationColors[k];
      li.dataset.key = k;
      ul.append(li);
    }
    box.append(ul);
    if (map.getZoom() < 8) box.append(el('p', 'zoom in to see them', 'meta'));
    if (shown) renderIncident();
  }

  function renderIncident() {
    const { incident: inc, reports, differs } = shown;
    const sec = el('section');
    sec.className = 'incident';
    sec.dataset.id = inc.id;
    const close = el('button', '×');
    close.title = 'close';
    close.addEventListener('click', () => { shown = null; renderCounts(); });
    sec.append(close, el('h3', `${inc.category} · ${inc.partners.length} partner(s) · ${inc.corroboration}${inc.contested ? ' · contested' : ''}`));
    sec.append(el('p', `killed ${inc.killed_min === inc.killed ? inc.killed : `${inc.killed_min}–${inc.killed}`}; differ: ${differs.join(', ') || 'nothing'}`, 'meta'));
    const rows = [['partner', (r) => r.partner_id, 'partner_id'], ['time', (r) => r.observed_at, 'observed_at'],
      ['position', (r) => `${r.lat.toFixed(4)}, ${r.lon.toFixed(4)}`, 'location'], ['accuracy m', (r) => r.accuracy_m, 'accuracy_m'],
      ['perpetrator', (r) => `${r.perpetrator.name} (${r.perpetrator.side})`, 'perpetrator.side'],
      ['killed', (r) => r.killed, 'killed'], ['injured', (r) => r.injured, 'injured']];
    const table = el('table');
    for (const [label, get, field] of rows) {
      const tr = el('tr');
      if (differs.includes(field) || (field === 'perpetrator.side' && differs.includes('perpetrator.name'))) tr.className = 'differs';
      tr.append(el('th', label));
      for (const r of reports) tr.append(el('td', get(r)));
      table.append(tr);
    }
    sec.append(table);
    box.append(sec);
  }

  async function refresh() {
    const my = ++gen;
    const b = map.getBounds();
    const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(5)).join(',');
    const q = new URLSearchParams({ from: s.from, to: s.to, bbox, limit: 2000 });
    const fc = await track(getJSON(`/v1/incidents?${q}`));
    if (my !== gen || !fc) return;
    map.getSource('incidents').setData(fc);
    counts = fc.counts;
    renderCounts();
  }

  async function open(id) {
    shown = await track(getJSON(`/v1/incidents/${encodeURIComponent(id)}`));
    renderCounts();
  }

  function pick(point) {
    const f = map.getLayer('incidents-dot') && map.queryRenderedFeatures(point, { layers: ['incidents-dot'] })[0];
    if (!f) return false;
    open(f.properties.id);
    return true;
  }

  return { refresh, pick, open, state: () => ({ counts, shown: shown?.incident.id ?? '', reports: shown?.reports.length ?? 0, differs: shown?.differs ?? [] }) };
}
