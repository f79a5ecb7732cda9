// keys.mjs — the map by keyboard: arrows pan (MapLibre's own handler), Enter picks what is at the centre (marked while the map has focus), Escape closes the panel.

// keyboard wires the map's canvas and the page; pick(point) selects what is drawn at a screen point of the map.
export function keyboard(map, marker, pick) {
  const canvas = map.getCanvas();
  canvas.setAttribute('aria-label', 'map: arrow keys pan, + and - zoom, Enter lists the reports at the centre mark');
  canvas.addEventListener('focus', () => { marker.hidden = false; });
  canvas.addEventListener('blur', () => { marker.hidden = true; });
  // On keyup: the panel takes the focus, and the rest of the key's events must not reach its buttons.
  let down = false;
  canvas.addEventListener('keydown', (e) => { down = e.key === 'Enter' && !e.altKey && !e.ctrlKey && !e.metaKey; if (down) e.preventDefault(); });
  canvas.addEventListener('keyup', (e) => {
    if (e.key !== 'Enter' || !down) return;
    down = false;
    const c = canvas.getBoundingClientRect();
    pick([c.width / 2, c.height / 2]);
  });
  document.addEventListener('keydown', (e) => {
    const close = document.querySelector('#panel:not([hidden]) .close');
    if (e.key !== 'Escape' || !close) return;
    e.preventDefault();
    close.click();
    canvas.focus();
  });
}
