// state.mjs — the whole view state (position, window, filters, layers, selection), kept in the URL's hash.

export const defaults = {
  lon: 38.6, lat: 34.9, z: 6.1,            // position
  from: '', to: '',                      // window (dates, [from, to)); empty = the API's default
  measure: 'reports',                    // reports | violations | possible_violations | killed | injured | coarse_reports
  choro: 'adm2',                         // none | zones | adm1 | adm2 | adm3
  count: '',                             // what the grid and areas count: reports | incidents (each event once, however many partners); '' = countOf's default
  set: '',                               // zone set of the zone layers ('' = every set)
  grid: '1',                             // density grid shown
  category: '', side: '', partner: '',   // filters (comma-separated lists)
  violation: '',                         // '' | 'true'
  precision: '',                         // '' (any) or a list of geo precisions (exact,near,...)
  possible: 'definite',                  // definite | possible | both (zone choropleth)
  sel: '',                               // selection: cell:z/x/y, area:adm2:SY0100, zone:astana-1
  live: '1',                             // redraw every 15 s while the window reaches the data's last day
};

// countOf is what the grid and the areas count: the count chosen, else incidents for violations
// and possible violations (a violation reported by three partners is one violation), reports otherwise.
export const countOf = (s) => s.count || (s.measure === 'violations' || s.measure === 'possible_violations' ? 'incidents' : 'reports');

// measureOf is the property of a cell or area that holds s.measure under countOf(s).
export const measureOf = (s) => (countOf(s) !== 'incidents' ? s.measure
  : ({ reports: 'incidents', coarse_reports: 'coarse_incidents' })[s.measure] ?? s.measure);

export function read() {
  const s = { ...defaults };
  const h = new URLSearchParams(location.hash.slice(1));
  for (const k of Object.keys(defaults)) {
    if (!h.has(k)) continue;
    s[k] = typeof defaults[k] === 'number' ? Number(h.get(k)) : h.get(k);
    if (typeof defaults[k] === 'number' && !Number.isFinite(s[k])) s[k] = defaults[k];
  }
  return s;
}

export function write(s) {
  const h = new URLSearchParams();
  for (const k of Object.keys(defaults)) {
    let v = s[k];
    if (typeof v === 'number') v = k === 'z' ? v.toFixed(2) : v.toFixed(4);
    if (v !== '' && v !== String(defaults[k]) && !(typeof s[k] === 'number' && Number(v) === defaults[k])) h.set(k, v);
  }
  // ':', '/' and ',' stay readable in the link.
  history.replaceState(null, '', '#' + h.toString().replace(/%3A/g, ':').replace(/%2F/g, '/').replace(/%2C/g, ','));
}
