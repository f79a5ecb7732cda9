// slider.mjs — the time window: its end on a slider over the data's whole extent, its length, and play (week steps).

const DAY = 86400000;
const day = (s) => Date.parse(s.slice(0, 10) + 'T00:00:00Z');
const iso = (t) => new Date(t).toISOString().slice(0, 10);

// createSlider builds the controls in el; extent is /v1/extent's answer; onChange(from, to) gets dates.
export function createSlider(el, extent, s, onChange) {
  const first = extent.first ? day(extent.first) : day(extent.default_from);
  const end = extent.last ? day(extent.last) + DAY : day(extent.default_to); // exclusive
  let to = day(s.to), len = Math.round((to - day(s.from)) / DAY);
  el.innerHTML = `<label>window <select id="t-len" aria-label="window length">
      ${[7, 14, 30, 90, 182, 365].map((d) => `<option value="${d}">${d} days</option>`).join('')}</select></label>
    <button id="t-play" type="button" aria-label="play">▶</button>
    <input id="t-end" type="range" aria-label="end of the window" min="${(first + DAY - end) / DAY}" max="0" step="1">
    <output id="t-label"></output>`;
  const sel = el.querySelector('#t-len'), range = el.querySelector('#t-end');
  const play = el.querySelector('#t-play'), label = el.querySelector('#t-label');
  if (![...sel.options].some((o) => Number(o.value) === len)) sel.add(new Option(`${len} days`, len));
  sel.value = String(len);
  let timer = null;
  const show = () => {
    range.value = String(Math.round((to - end) / DAY));
    label.value = `${iso(to - len * DAY)} – ${iso(to - DAY)}`;
  };
  const emit = () => { show(); onChange(iso(to - len * DAY), iso(to)); };
  range.addEventListener('input', () => { to = end + Number(range.value) * DAY; emit(); });
  sel.addEventListener('change', () => { len = Number(sel.value); emit(); });
  const stop = () => { clearInterval(timer); timer = null; play.textContent = '▶'; play.setAttribute('aria-label', 'play'); };
  play.addEventListener('click', () => {
    if (timer) return stop();
    if (to >= end) to = Math.min(first + len * DAY, end); // from the start again
    play.textContent = '❚❚'; play.setAttribute('aria-label', 'pause');
    emit();
    timer = setInterval(() => { if (to >= end) return stop(); to = Math.min(to + 7 * DAY, end); emit(); }, 1500);
  });
  show();
  return { set(from, newTo) { to = day(newTo); len = Math.round((to - day(from)) / DAY); show(); } };
}
