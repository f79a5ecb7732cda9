// panel.mjs — the drill-down panel: the reports of a clicked cell, area or zone from /v1/reports (cursor paging), and a zone's weekly series.
import { getJSON } from './api.mjs';

const el = () => document.getElementById('panel');
let current = null; // { ids, done, loading }

function node(tag, text, cls) {
  const n = document.createElement(tag);
  if (text != null) n.textContent = text;
  if (cls) n.className = cls;
  return n;
}

const when = (t) => t.replace('T', ' ').replace('Z', ' UTC');

// httpURL is s as a URL when it is an absolute http(s) one, else null.
function httpURL(s) {
  try { const u = new URL(s); return u.protocol === 'http:' || u.protocol === 'https:' ? u : null; } catch { return null; }
}

// sourceItem is a source as a link when it is an http(s) URL, else as text.
function sourceItem(src) {
  const li = node('li');
  const u = httpURL(src);
  if (!u) { li.textContent = src; return li; }
  const a = node('a', src);
  a.href = u.href;
  a.rel = 'noopener noreferrer';
  a.target = '_blank';
  li.append(a);
  return li;
}

// field appends a "name: value" row to dl; every value goes in as text.
function field(dl, name, value, cls) {
  if (value == null || value === '') return;
  dl.append(node('dt', name), node('dd', String(value), cls));
}

// reportItem shows one report with every field /v1/reports returns (all as text: report text is never HTML).
function reportItem(f) {
  const p = f.properties, [lon, lat] = f.geometry.coordinates;
  const li = node('li');
  li.append(node('strong', `${p.category.replace(/_/g, ' ')} · ${when(p.observed_at)}`));
  if (p.violation) li.append(' ', node('span', 'violation', 'viol'));
  const perp = p.perpetrator || {}, tgt = p.target || {};
  li.append(node('div', `${perp.name || 'unknown'} (${perp.side || '?'}) → ${tgt.name || 'unknown'} (${tgt.side || '?'}); killed ${p.killed}, injured ${p.injured}`));
  if (p.description) li.append(node('div', p.description, 'desc'));
  const dl = node('dl', null, 'fields');
  field(dl, 'report', `${p.partner_id}/${p.id}`);
  field(dl, 'revision', p.revision);
  field(dl, 'observed', (p.observed_until ? `${when(p.observed_at)} to ${when(p.observed_until)}` : when(p.observed_at)) +
    (p.time_precision ? ` (${p.time_precision})` : ''));
  field(dl, 'location', `${lat.toFixed(5)}, ${lon.toFixed(5)}`);
  field(dl, 'accuracy', `±${p.accuracy_m} m` + (p.geo_precision ? ` (${p.geo_precision})` : ''));
  field(dl, 'area', [p.adm1, p.adm2, p.adm3].filter(Boolean).join(' / ') + (p.adm_approx ? ' (nearest)' : ''));
  field(dl, 'zones', ((p.zones || []).join(', ') || 'none') + ((p.possible_zones || []).length ? `; possibly ${p.possible_zones.join(', ')}` : ''));
  field(dl, 'zone set', p.zone_set);
  field(dl, 'violation', p.violation_reason, 'reason');
  field(dl, 'received', p.received_at && when(p.received_at));
  li.append(dl);
  if ((p.sources || []).length) {
    const ul = node('ul', null, 'sources');
    ul.setAttribute('aria-label', 'sources');
    for (const src of p.sources) ul.append(sourceItem(src));
    li.append(node('div', 'sources', 'meta'), ul);
  }
  li.dataset.id = `${p.partner_id}/${p.id}`;
  li.tabIndex = 0; // the list is walked with Tab
  return li;
}

// chart draws a series of reports, or of incidents (measure=incidents: its points have incidents).
function chart(points) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  const unit = points[0]?.incidents !== undefined ? 'incidents' : 'reports';
  const w = 300, h = 80, max = Math.max(1, ...points.map((p) => p[unit]));
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `${unit} per week`);
  points.forEach((p, i) => {
    const r = document.createElementNS(ns, 'rect');
    const bw = w / points.length, bh = (p[unit] / max) * (h - 4);
    r.setAttribute('x', i * bw + 0.5); r.setAttribute('width', Math.max(bw - 1, 0.5));
    r.setAttribute('y', h - bh); r.setAttribute('height', bh);
    const t = document.createElementNS(ns, 'title');
    t.textContent = `week of ${p.t.slice(0, 10)}: ${p[unit]} ${unit}, ${p.violations} violations`;
    r.append(t);
    svg.append(r);
  });
  return svg;
}

// openPanel lists the reports of url (a /v1/reports URL without cursor), keeping those keep() accepts.
export async function openPanel({ title, url, keep = () => true, seriesURL, onClose }) {
  const p = el();
  p.replaceChildren();
  p.hidden = false;
  const close = node('button', '×', 'close');
  close.type = 'button';
  close.setAttribute('aria-label', 'close');
  close.addEventListener('click', () => { closePanel(); onClose?.(); });
  const count = node('div', '', 'meta');
  const list = node('ol');
  const more = node('button', 'more');
  more.type = 'button';
  more.id = 'panel-more';
  p.append(close, node('h2', title), count);
  const st = (current = { ids: [], done: false, loading: true });
  if (seriesURL) {
    const box = node('div');
    p.append(box);
    getJSON(seriesURL).then((s) => { if (current === st) box.append(chart(s.points)); }).catch((e) => console.warn(e.message));
  }
  p.append(list, more);
  let cursor = '';
  const page = async () => {
    st.loading = true;
    more.disabled = true;
    const fc = await getJSON(url + '&limit=100' + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''));
    if (current !== st) return;
    for (const f of fc.features) if (keep(f)) { list.append(reportItem(f)); st.ids.push(`${f.properties.partner_id}/${f.properties.id}`); }
    cursor = fc.next_cursor || '';
    st.done = !cursor;
    more.hidden = st.done;
    more.disabled = false;
    count.textContent = `${st.ids.length} report${st.ids.length === 1 ? '' : 's'}${st.done ? '' : ' so far'}`;
    st.loading = false;
  };
  more.addEventListener('click', page);
  close.focus();
  await page();
}

export function closePanel() {
  current = null;
  el().hidden = true;
  el().replaceChildren();
}

// panelState is what the test hook reads: the listed report ids, and whether paging is done.
export const panelState = () => (current ? { ids: [...current.ids], done: current.done, loading: current.loading } : null);
