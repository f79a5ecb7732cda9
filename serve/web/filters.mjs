// filters.mjs — the controls for what is drawn: measure, layers, and the API's filters (category, side, partner, violation, precision, definite/possible).
import { countOf } from './state.mjs';

// esc makes a value from the server safe inside HTML text and attributes.
export const esc = (v) => String(v).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

// createFilters builds the controls in el from the values the API documents (openapi x-values); onChange(patch).
export function createFilters(el, openapi, sets, s, onChange) {
  const docs = {};
  for (const p of openapi?.paths['/v1/reports'].get.parameters ?? []) docs[p.name] = p.schema['x-values'] || [];
  docs.category ??= [];
  docs.side ??= [];
  const opt = (v, t = v) => `<option value="${esc(v)}">${esc(t.replace(/_/g, ' '))}</option>`;
  el.innerHTML = `
    <label>show <select id="f-measure">${['reports', 'violations', 'possible_violations', 'killed', 'injured', 'coarse_reports'].map((v) => opt(v)).join('')}</select></label>
    <label><input id="f-grid" type="checkbox"> grid</label>
    <label>areas <select id="f-choro">${opt('none', 'none')}${opt('zones', 'zones')}${opt('adm1', 'governorates')}${opt('adm2', 'districts')}${opt('adm3', 'sub-districts')}</select></label>
    <label title="what the grid and the areas count: every report, or every incident once (the reports of several partners fused); violations count incidents unless chosen">count <select id="f-count">${opt('reports', 'reports')}${opt('incidents', 'incidents')}</select></label>
    <label>zone set <select id="f-set">${opt('', 'all')}${sets.map((v) => opt(v)).join('')}</select></label>
    <details><summary>category</summary><div id="f-cats">${docs.category.map((c) =>
      `<label><input type="checkbox" value="${esc(c)}"> ${esc(c.replace(/_/g, ' '))}</label>`).join('')}</div></details>
    <label>perpetrator <select id="f-side">${opt('', 'any side')}${docs.side.map((v) => opt(v)).join('')}</select></label>
    <label>partner <input id="f-partner" size="12" placeholder="any" aria-label="partner ids, comma-separated"></label>
    <label><input id="f-viol" type="checkbox"> violations only</label>
    <label title="where the reports' locations come from: a place, or an area's centre">location <select id="f-prec">${opt('', 'any precision')}${opt('exact', 'exact')}${opt('exact,near', 'within 25 km')}${opt('exact,near,adm3', 'sub-district or better')}${opt('adm2,adm1,country', 'district or coarser')}</select></label>
    <label>in zone <select id="f-poss">${opt('definite', 'definitely')}${opt('possible', 'possibly')}${opt('both', 'definitely or possibly')}</select></label>
    <label title="redraw every 15 s while the window reaches the data's last day"><input id="f-live" type="checkbox"> live</label>
    <a id="f-export" download="reports.geojson">export</a>`;
  const $ = (id) => el.querySelector(id);
  const set = (st) => {
    $('#f-measure').value = st.measure; $('#f-grid').checked = st.grid === '1'; $('#f-choro').value = st.choro;
    $('#f-set').value = st.set; $('#f-count').value = countOf(st); $('#f-side').value = st.side; $('#f-partner').value = st.partner;
    $('#f-viol').checked = st.violation === 'true'; $('#f-prec').value = st.precision; $('#f-live').checked = st.live === '1'; $('#f-poss').value = st.possible;
    const cats = st.category.split(',');
    for (const c of el.querySelectorAll('#f-cats input')) c.checked = cats.includes(c.value);
  };
  set(s);
  const on = (id, ev, fn) => $(id).addEventListener(ev, () => onChange(fn($(id))));
  on('#f-measure', 'change', (e) => ({ measure: e.value }));
  on('#f-grid', 'change', (e) => ({ grid: e.checked ? '1' : '0' }));
  on('#f-choro', 'change', (e) => ({ choro: e.value }));
  on('#f-set', 'change', (e) => ({ set: e.value }));
  on('#f-count', 'change', (e) => ({ count: e.value }));
  on('#f-side', 'change', (e) => ({ side: e.value }));
  on('#f-partner', 'change', (e) => ({ partner: e.value.replace(/\s+/g, '') }));
  on('#f-viol', 'change', (e) => ({ violation: e.checked ? 'true' : '' }));
  on('#f-prec', 'change', (e) => ({ precision: e.value }));
  on('#f-poss', 'change', (e) => ({ possible: e.value }));
  on('#f-live', 'change', (e) => ({ live: e.checked ? '1' : '0' }));
  on('#f-cats', 'change', (e) => ({ category: [...e.querySelectorAll('input:checked')].map((c) => c.value).join(',') }));
  return { set, exportLink: (href) => { $('#f-export').href = href; } };
}
