// main.mjs — wires the page: reads the state from the URL, builds the map and controls, refetches when the state changes.
import * as api from './api.mjs';
import * as state from './state.mjs';
import { createMap, addLayers, setCells, styleCells, setChoropleth, setData, rendered, tileBounds, tileOf, boundsPolygon, bbox } from './map.mjs';
import { createSlider } from './slider.mjs';
import { createFilters } from './filters.mjs';
import { renderLegend } from './legend.mjs';
import { openPanel, closePanel, panelState } from './panel.mjs';
import { niceStops } from './colors.mjs';
import { keyboard } from './keys.mjs';
import { token, askToken } from './auth.mjs';
import { addIncidents } from './incidents.mjs';

const s = state.read();
const placed = new URLSearchParams(location.hash.slice(1)).has('z'); // the URL gives a position
let busy = 1; // work of ours in progress (besides fetches and tiles)
const outlines = {}; // level -> FeatureCollection (geometry only matters)
let outline = null; // outline(level) fetches a level's outlines once; set in main
let choroFC = null, choroStops = null, zonesFC = null, zonesSig = null, extent = null;

const levelOf = { adm1: 1, adm2: 2, adm3: 3 };

// value is what the choropleth colours a feature by.
function value(p) {
  if (state.countOf(s) === 'incidents') {
    const m = state.measureOf(s);
    if (s.choro === 'zones' && m === 'incidents' && s.possible !== 'definite') {
      return (s.possible === 'both' ? p.incidents : 0) + p.possible_incidents;
    }
    return p[m] ?? 0;
  }
  if (s.choro !== 'zones' || s.measure !== 'reports') return p[s.measure] ?? 0;
  if (s.possible === 'possible') return p.possible_reports;
  if (s.possible === 'both') return p.reports + p.possible_reports;
  return p.reports;
}

const endOf = () => Date.parse(s.to + 'T00:00:00Z');
const startOf = () => Date.parse(s.from + 'T00:00:00Z');

function markZones(fc) {
  const t = endOf() - 1000;
  for (const f of fc.features) {
    const p = f.properties;
    const from = Date.parse(p.valid_from), to = p.valid_to ? Date.parse(p.valid_to) : Infinity;
    p.in_force = from <= t && t < to;
    p.in_window = from < endOf() && to > startOf();
  }
  return fc;
}

function area(f) { const b = bbox(f.geometry); return (b[2] - b[0]) * (b[3] - b[1]); }

// showChoropleth colours the zones, or the admin areas of adminFC (their aggregates for the window).
function showChoropleth(map, adminFC) {
  if (s.choro === 'none' || (s.choro !== 'zones' && !adminFC)) { choroFC = null; choroStops = null; setChoropleth(map, null, [1]); return; }
  let fc = adminFC;
  if (s.choro === 'zones') {
    fc = { ...zonesFC, features: zonesFC.features.filter((f) => f.properties.in_window).sort((a, b) => area(b) - area(a)) };
  }
  const key = (p) => p.pcode ?? p.id;
  fc = { ...fc, features: fc.features.map((f) => ({ ...f, properties: { ...f.properties, key: key(f.properties), value: value(f.properties) } })) };
  choroFC = fc;
  choroStops = niceStops(Math.max(1, ...fc.features.map((f) => f.properties.value)));
  setChoropleth(map, fc, choroStops, `${s.choro}:${fc.features.map((f) => f.properties.key).join(',')}`);
}

// fetchReports gets the reports of the view from zoom 11 (null below).
function fetchReports(map) {
  if (map.getZoom() < 11) return Promise.resolve(null);
  const b = map.getBounds();
  return api.getJSON(api.reportsURL(s, { bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(5)).join(','), limit: 1000 }));
}

function exportLink(map, filters) {
  const b = map.getBounds();
  filters.exportLink(api.reportsURL(s, { bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(5)).join(','), limit: 1000 }));
}

// select opens the panel for a selection key (cell:z/x/y, area:adm2:SY0100, zone:id) and outlines it.
async function select(map, sel) {
  s.sel = sel;
  state.write(s);
  if (!sel) { closePanel(); setData(map, 'sel', null); return; }
  const [kind, a, b] = sel.split(':');
  const onClose = () => { s.sel = ''; state.write(s); setData(map, 'sel', null); };
  if (kind === 'cell') {
    const [z, x, y] = a.split('/').map(Number);
    const bb = tileBounds(z, x, y);
    setData(map, 'sel', { type: 'FeatureCollection', features: [boundsPolygon(bb)] });
    const keep = (f) => { const [tx, ty] = tileOf(...f.geometry.coordinates, z); return tx === x && ty === y; };
    return openPanel({ title: `grid cell ${a}`, url: api.reportsURL(s, { bbox: bb.map((v) => v.toFixed(6)).join(',') }), keep, onClose });
  }
  if (kind === 'area') {
    if (!(choroFC && s.choro === a)) await outline(a);
    const f = (choroFC && s.choro === a ? choroFC : outlines[a])?.features.find((f) => f.properties.pcode === b);
    if (!f) return;
    setData(map, 'sel', { type: 'FeatureCollection', features: [f] });
    const bb = bbox(f.geometry);
    return openPanel({ title: `${f.properties.name} (${b})`, url: api.reportsURL(s, { bbox: bb.map((v) => v.toFixed(6)).join(',') }),
      keep: (r) => r.properties[a] === b, onClose });
  }
  if (kind === 'zone') {
    const f = zonesFC.features.find((f) => f.properties.id === a);
    if (!f) return;
    setData(map, 'sel', { type: 'FeatureCollection', features: [f] });
    return openPanel({ title: f.properties.name, url: api.reportsURL(s, { zone: a }), seriesURL: api.seriesURL(a, s), onClose });
  }
}

async function main() {
  const [ext, openapi] = await Promise.all([api.getJSON('/v1/extent'), api.getJSON('/openapi.json').catch((e) => { console.warn(e.message); return null; })]);
  extent = ext;
  if (!s.from || !s.to) { s.from = ext.default_from.slice(0, 10); s.to = ext.default_to.slice(0, 10); }
  const map = createMap(document.getElementById('map'), s);
  const legend = document.getElementById('legend');
  await new Promise((ok) => map.on('load', ok));
  addLayers(map, s);
  const track = (p) => { busy++; return p.catch((e) => console.warn(e.message)).finally(() => busy--); };
  const incidents = addIncidents(map, s, document.getElementById('incidents'), track, openapi);
  // Outlines, not waited for: adm1 and adm2 now, adm3 (drawn from zoom 8) once it is needed.
  const outlineP = {};
  outline = (l) => (outlineP[l] ??= track(api.getJSON(api.adminURL(l, s)).then((fc) => { outlines[l] = fc; setData(map, l, fc); })));
  const adm3IfNeeded = () => { if (map.getZoom() >= 7.5 || s.choro === 'adm3' || s.sel.startsWith('area:adm3:')) outline('adm3'); };
  outline('adm1');
  outline('adm2');
  adm3IfNeeded();
  map.on('zoomend', adm3IfNeeded);
  const zonesP = api.getJSON(api.zonesURL({ ...s, set: '' }));
  let filters = null;

  // refresh redraws what depends on the state; what says how much changed. Its fetches run at
  // once, and the answers of a refresh overtaken by a later one are dropped.
  let gen = 0;
  const refresh = async (what) => {
    const my = ++gen;
    busy++;
    try {
      state.write(s);
      if (what !== 'style') setCells(map, s); else styleCells(map, s);
      // The zones' aggregates only for their choropleth; their outlines need only validity, known.
      const [zfc, afc, rfc] = await Promise.all([
        s.choro === 'zones' ? api.getJSON(api.zonesURL(s)) : zonesP.then((fc) => ({ ...fc, features: fc.features.filter((f) => !s.set || f.properties.set === s.set) })),
        s.choro.startsWith('adm') ? api.getJSON(api.adminURL(s.choro, s)) : null,
        what !== 'style' ? fetchReports(map) : undefined,
      ]);
      if (my !== gen) return;
      if (zfc) {
        zonesFC = markZones(zfc);
        // The outlines change only when a zone comes into or goes out of force.
        const sig = zonesFC.features.filter((f) => f.properties.in_force).map((f) => f.properties.id).join(',');
        if (sig !== zonesSig) { zonesSig = sig; setData(map, 'zones', zonesFC); }
      }
      showChoropleth(map, afc);
      if (rfc !== undefined) setData(map, 'reports', rfc);
      if (what !== 'style') incidents.refresh();
      const coarseKey = state.countOf(s) === 'incidents' ? 'coarse_incidents' : 'coarse_reports';
      renderLegend(legend, s, choroStops, (choroFC?.features ?? []).reduce((n, f) => n + (f.properties[coarseKey] ?? 0), 0));
      if (filters) exportLink(map, filters);
    } catch (e) {
      console.warn(e.message);
    } finally {
      busy--;
    }
  };
  const first = refresh('all');
  const sets = [...new Set((await zonesP).features.map((f) => f.properties.set))];
  const slider = createSlider(document.getElementById('time'), ext, s, (from, to) => { Object.assign(s, { from, to }); refresh('window'); });
  filters = createFilters(document.getElementById('filters'), openapi, sets, s, (patch) => {
    const counted = state.countOf(s);
    Object.assign(s, patch);
    if (Object.keys(patch).every((k) => k === 'live')) return state.write(s);
    filters.set(s); // the count shown follows the measure unless chosen
    // A measure that changes what is counted (violations count incidents) needs new tiles.
    const style = state.countOf(s) === counted && Object.keys(patch).every((k) => ['measure', 'grid', 'choro', 'possible'].includes(k));
    refresh(style ? 'style' : 'filter');
  });

  map.on('moveend', () => {
    const c = map.getCenter();
    Object.assign(s, { lon: c.lng, lat: c.lat, z: map.getZoom() });
    state.write(s);
    exportLink(map, filters);
    track(fetchReports(map).then((fc) => setData(map, 'reports', fc)));
    incidents.refresh();
  });
  // pick selects what is drawn at a point of the map: a grid cell, else a zone or area (nothing: closes the panel).
  const pick = (point) => {
    if (incidents.pick(point)) return;
    const hit = (layer) => map.getLayer(layer) && map.queryRenderedFeatures(point, { layers: [layer] })[0];
    const cell = s.grid === '1' && hit('cells-fill');
    const area = hit('choro-fill');
    let sel = '';
    if (cell) sel = `cell:${cell.properties.cell}`;
    else if (area && s.choro === 'zones') sel = `zone:${area.properties.id}`;
    else if (area) sel = `area:${s.choro}:${area.properties.pcode}`;
    busy++;
    Promise.resolve(select(map, sel)).catch((e) => console.warn(e.message)).finally(() => busy--);
  };
  map.on('click', (e) => pick(e.point));
  // A tile refused (the token revoked while the page is open): ask again, then reload the grid.
  map.on('error', (e) => {
    if (e.error?.status !== 401) { console.error(e.error); return; }
    askToken(true).then(() => setCells(map, s));
  });
  document.getElementById('f-export').addEventListener('click', (e) => {
    if (!token()) return; // a plain link does without
    e.preventDefault();
    api.download(e.currentTarget.href, 'reports.geojson').catch((err) => console.warn(err.message));
  });
  keyboard(map, document.getElementById('centre'), pick);
  const tip = document.getElementById('tip');
  map.on('mousemove', (e) => {
    const f = map.getLayer('choro-fill') && map.queryRenderedFeatures(e.point, { layers: ['choro-fill'] })[0];
    tip.hidden = !f;
    if (!f) return;
    tip.textContent = `${f.properties.name}: ${f.state.value ?? 0} ${s.measure}`;
    tip.style.left = `${e.point.x + 12}px`;
    tip.style.top = `${e.point.y + 12}px`;
  });
  // Live: while the window reaches the data's last day (a live feed, or the demo), redraw every 15 s.
  setInterval(async () => {
    if (!extent.last) { // no data when the page opened: start again on the first data
      const e = await api.getJSON('/v1/extent').catch(() => extent);
      if (e.last) { Object.assign(s, { from: '', to: '' }); state.write(s); location.reload(); }
      return;
    }
    if (s.live !== '1' || document.hidden || busy > 0 || endOf() <= Date.parse(extent.last + 'T00:00:00Z')) return;
    try { extent = await api.getJSON('/v1/extent'); } catch (e) { console.warn(e.message); return; }
    refresh('window');
  }, 15000);

  exportLink(map, filters);
  // Without a position in the URL: all of Syria (the admin boundaries' extent), whatever the screen,
  // once the controls above the map have their height.
  if (!placed) {
    map.resize();
    map.fitBounds([[35.6, 32.3], [42.4, 37.4]], { padding: 12, animate: false });
  }
  await first;
  if (s.sel) await select(map, s.sel).catch((e) => console.warn(e.message));
  busy--;

  // A small read-only hook for tests and scripts: what the map drew, what the panel lists.
  window.trucewatch = Object.freeze({
    idle: () => busy === 0 && api.pending === 0 && map.loaded() && map.areTilesLoaded() && !map.isMoving(),
    state: () => ({ ...s }),
    bounds: () => map.getBounds().toArray().flat(),
    rendered: (layer) => rendered(map, layer),
    project: (lon, lat) => { const p = map.project([lon, lat]); const r = map.getContainer().getBoundingClientRect(); return { x: p.x + r.left, y: p.y + r.top }; },
    panel: panelState,
    choroStops: () => choroStops && [...choroStops],
    incidents: () => incidents.state(),
  });
  void slider;
}

main().catch((e) => { console.error('trucewatch map:', e); document.body.dataset.failed = String(e); });
