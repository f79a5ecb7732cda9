// auth.mjs — the read token behind `serve --read-tokens`: asked for in a small form on a 401, kept in sessionStorage (never the URL), sent as a bearer header.

const key = 'trucewatch.readToken';
let asking = null; // the pending ask, shared by every request that got a 401

export const token = () => sessionStorage.getItem(key) || '';

// headers adds the Authorization header to h when there is a token.
export function headers(h = {}) {
  const t = token();
  return t ? { ...h, Authorization: `Bearer ${t}` } : h;
}

// askToken shows the form and resolves once a token is entered; refused says the stored one was rejected.
export function askToken(refused) {
  if (refused && token()) sessionStorage.removeItem(key);
  return (asking ??= new Promise((done) => {
    const form = document.getElementById('auth');
    const input = form.querySelector('input');
    form.querySelector('.meta').textContent = refused ? 'That token was refused; enter another.' : 'This server requires a read token.';
    form.hidden = false;
    input.value = '';
    input.focus();
    form.onsubmit = (e) => {
      e.preventDefault();
      const t = input.value.trim();
      if (!t) return;
      sessionStorage.setItem(key, t);
      form.hidden = true;
      asking = null;
      done(t);
    };
  }));
}
