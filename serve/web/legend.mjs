// legend.mjs — the legend, drawn from the same colour stops as the style (colors.mjs).
import { densityColors, densityStops, choroColors, noDataColor, zoneKinds } from './colors.mjs';
import { esc } from './filters.mjs';
import { countOf } from './state.mjs';

const names = { zones: 'zones', adm1: 'governorates', adm2: 'districts', adm3: 'sub-districts' };

function section(title, stops, colors, below) {
  const rows = [];
  if (below) rows.push(`<div class="row"><span class="sw" data-c="${below}"></span>0</div>`);
  stops.forEach((v, i) => {
    const hi = stops[i + 1];
    rows.push(`<div class="row"><span class="sw" data-c="${colors[i]}"></span>${hi === undefined ? `${v}+` : hi - 1 > v ? `${v}–${hi - 1}` : v}</div>`);
  });
  return `<h2>${esc(title)}</h2>${rows.join('')}`;
}

// renderLegend fills el for state s; choroStops are the choropleth's class breaks (null when it is off);
// coarse is how many reports of the window the areas shown cannot place (too coarse for the level).
export function renderLegend(el, s, choroStops, coarse) {
  let html = '';
  const incidents = countOf(s) === 'incidents';
  const measure = incidents ? (s.measure === 'reports' ? 'incidents' : `${s.measure} (incidents)`) : s.measure;
  if (s.grid === '1') html += section(`${measure} per grid cell`, densityStops, densityColors);
  if (choroStops) html += section(`${measure} per ${(names[s.choro] ?? s.choro).replace(/s$/, '')}`, choroStops, choroColors, noDataColor);
  if (coarse > 0) {
    html += incidents
      ? `<p id="coarse">${coarse} incidents too coarse to place in ${esc(names[s.choro] ?? s.choro)}</p>`
      : `<p id="coarse">${coarse} reports too coarse to place in ${esc(names[s.choro] ?? s.choro)} (show coarse_reports to see where their points lie)</p>`;
  }
  if (incidents && (s.side || s.partner)) html += '<p id="inc-note">the perpetrator and partner filters apply to reports only</p>';
  html += '<h2>zones in force</h2>' + Object.entries(zoneKinds).map(([k, c]) =>
    `<div class="row"><span class="sw line" data-c="${c}"></span>${k.replace(/_/g, ' ')}</div>`).join('');
  el.innerHTML = html;
  // Colours set through the CSSOM: the page's CSP allows no inline style attributes.
  for (const sw of el.querySelectorAll('.sw')) {
    if (sw.classList.contains('line')) sw.style.borderTopColor = sw.dataset.c;
    else sw.style.background = sw.dataset.c;
  }
}
