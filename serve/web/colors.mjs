// colors.mjs — the colour stops of every layer: the style and the legend both read them from here.

// Density grid: fixed stops (a cell's count), yellow to dark red.
export const densityColors = ['#ffffb2', '#fed976', '#feb24c', '#fd8d3c', '#f03b20', '#bd0026', '#800026'];
export const densityStops = [1, 3, 10, 30, 100, 300, 1000];

// Choropleth: six classes from 1 to the largest value shown, blues.
export const choroColors = ['#eff3ff', '#c6dbef', '#9ecae1', '#6baed6', '#3182bd', '#08519c'];
export const noDataColor = '#ffffff';

// Zone outlines by kind.
export const zoneKinds = {
  ceasefire: '#1b7837', de_escalation: '#762a83', excluded_area: '#d73027', buffer: '#4d4d4d',
};

// niceStops returns n class breaks from 1 to max, geometric, rounded to 1-2-5 numbers.
export function niceStops(max, n = choroColors.length) {
  const out = [1];
  for (let i = 1; i < n; i++) {
    const v = Math.pow(Math.max(max, 2), i / n);
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    const nice = [1, 2, 5, 10].map((m) => m * p).find((c) => c >= v);
    if (nice > out[out.length - 1]) out.push(nice);
  }
  return out;
}

// step builds a MapLibre 'step' expression over value with colours for stops (below the first: below).
export function step(value, stops, colors, below) {
  const e = ['step', value, below];
  stops.forEach((s, i) => e.push(s, colors[i]));
  return e;
}
