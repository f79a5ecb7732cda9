// map.mjs — the MapLibre map: admin outlines and zones from our own GeoJSON, the density grid (MVT), the choropleth, reports at high zoom.
import * as maplibregl from './vendor/maplibre-gl/maplibre-gl.mjs';
import { densityColors, densityStops, choroColors, noDataColor, zoneKinds, step } from './colors.mjs';
import { tileURL } from './api.mjs';
import { headers } from './auth.mjs';
import { measureOf } from './state.mjs';

const empty = { type: 'FeatureCollection', features: [] };

export function createMap(container, s) {
  const map = new maplibregl.Map({
    container, center: [s.lon, s.lat], zoom: s.z, minZoom: 3, maxZoom: 16,
    renderWorldCopies: false, fadeDuration: 0,
    // The read token on our own requests (the grid's tiles); nothing else is ever requested.
    transformRequest: (url) => (url.startsWith(location.origin + '/') ? { url, headers: headers() } : { url }),
    attributionControl: { compact: true, customAttribution: 'Boundaries: OCHA, UN Cartographic Section (CC BY-IGO 3.0)' },
    style: { version: 8, sources: {}, layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#eef0f2' } }] },
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-left');
  return map;
}

// addLayers adds every source and layer, bottom to top; call it on 'load'.
export function addLayers(map, s) {
  for (const id of ['adm1', 'adm2', 'adm3', 'zones', 'sel', 'reports']) map.addSource(id, { type: 'geojson', data: empty });
  map.addSource('choro', { type: 'geojson', data: empty, promoteId: 'key' });
  map.addSource('cells', { type: 'vector', tiles: [tileURL(s)], minzoom: 0, maxzoom: 16 });
  // The choropleth's colour is its class (feature state set by setChoropleth), one expression for every window.
  map.addLayer({ id: 'choro-fill', type: 'fill', source: 'choro', paint: { 'fill-opacity': 0.75,
    'fill-color': step(['coalesce', ['feature-state', 'cls'], -1], choroColors.map((_, i) => i), choroColors, noDataColor) } });
  map.addLayer({ id: 'cells-fill', type: 'fill', source: 'cells', 'source-layer': 'cells', paint: { 'fill-opacity': 0.8 } });
  map.addLayer({ id: 'adm3-line', type: 'line', source: 'adm3', minzoom: 8, paint: { 'line-color': '#9a9a9a', 'line-width': 0.4 } });
  map.addLayer({ id: 'adm2-line', type: 'line', source: 'adm2', minzoom: 6.5, paint: { 'line-color': '#777', 'line-width': 0.7 } });
  map.addLayer({ id: 'adm1-line', type: 'line', source: 'adm1', paint: { 'line-color': '#444', 'line-width': 1.3 } });
  const kind = ['match', ['get', 'kind']];
  for (const [k, c] of Object.entries(zoneKinds)) kind.push(k, c);
  kind.push('#000');
  map.addLayer({ id: 'zones-line', type: 'line', source: 'zones', filter: ['==', ['get', 'in_force'], true],
    paint: { 'line-color': kind, 'line-width': 2.2, 'line-dasharray': [3, 1.5] } });
  map.addLayer({ id: 'sel-line', type: 'line', source: 'sel', paint: { 'line-color': '#00b7d4', 'line-width': 3.5 } });
  map.addLayer({ id: 'reports-dot', type: 'circle', source: 'reports', minzoom: 11, paint: {
    'circle-radius': 4.5, 'circle-stroke-color': '#fff', 'circle-stroke-width': 1,
    'circle-color': ['case', ['get', 'violation'], '#b2182b', '#333'] } });
  styleCells(map, s);
}

// styleCells colours the grid by the measure, with the stops the legend shows.
export function styleCells(map, s) {
  map.setPaintProperty('cells-fill', 'fill-color', step(['get', measureOf(s)], densityStops, densityColors, 'rgba(0,0,0,0)'));
  map.setLayoutProperty('cells-fill', 'visibility', s.grid === '1' ? 'visible' : 'none');
}

// setCells points the grid at the window and filters of s.
export function setCells(map, s) {
  map.getSource('cells').setTiles([tileURL(s)]);
  styleCells(map, s);
}

// setChoropleth shows fc (features carrying 'key' and a numeric 'value') with class breaks stops.
// The geometry is set only when the areas change (shape names them); a new window changes
// only the values and their classes, as feature state: the style stays as it is (a new
// paint expression would make MapLibre lay the source out again), so nothing is re-tiled.
let choroShape = null;
export function setChoropleth(map, fc, stops, shape) {
  map.setLayoutProperty('choro-fill', 'visibility', fc ? 'visible' : 'none');
  if (!fc) return;
  if (shape !== choroShape) { map.getSource('choro').setData(fc); choroShape = shape; }
  for (const f of fc.features) {
    const v = f.properties.value;
    map.setFeatureState({ source: 'choro', id: f.properties.key }, { value: v, cls: stops.findLastIndex((s) => v >= s) });
  }
}

// setData replaces a GeoJSON source's data; an empty one stays as it is (no re-tiling for nothing).
const hasData = {};
export function setData(map, id, fc) {
  if (!fc?.features?.length && !hasData[id]) return;
  hasData[id] = !!fc?.features?.length;
  map.getSource(id).setData(fc || empty);
}

// rendered lists the distinct features a layer has drawn in the view (by cell, pcode or zone id).
export function rendered(map, layer) {
  const seen = new Map();
  for (const f of map.queryRenderedFeatures({ layers: [layer] })) {
    const p = f.properties;
    const k = p.cell ?? p.pcode ?? p.id;
    if (!seen.has(k)) seen.set(k, { ...p, ...f.state }); // the choropleth's values are feature state
  }
  return [...seen.values()];
}

// tileBounds is [west, south, east, north] of tile z/x/y; tileOf the tile of a point (Web Mercator).
export function tileBounds(z, x, y) {
  const n = 2 ** z;
  const lat = (t) => (180 / Math.PI) * Math.atan(Math.sinh(Math.PI * (1 - (2 * t) / n)));
  return [(x / n) * 360 - 180, lat(y + 1), ((x + 1) / n) * 360 - 180, lat(y)];
}

export function tileOf(lon, lat, z) {
  const n = 2 ** z;
  const r = (lat * Math.PI) / 180;
  const x = Math.floor(((lon + 180) / 360) * n);
  const y = Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n);
  return [Math.min(Math.max(x, 0), n - 1), Math.min(Math.max(y, 0), n - 1)];
}

export function boundsPolygon([w, s, e, n]) {
  return { type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]]] } };
}

// bbox of a GeoJSON geometry.
export function bbox(geom) {
  const b = [Infinity, Infinity, -Infinity, -Infinity];
  const walk = (c) => {
    if (typeof c[0] === 'number') {
      b[0] = Math.min(b[0], c[0]); b[1] = Math.min(b[1], c[1]); b[2] = Math.max(b[2], c[0]); b[3] = Math.max(b[3], c[1]);
    } else c.forEach(walk);
  };
  walk(geom.coordinates);
  return b;
}
