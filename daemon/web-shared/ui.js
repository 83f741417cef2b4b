// What every Hindsight web page shares (the box's staff page and manager console, the force's reviewers'
// console): building elements, the toast, error lines, and the API client with the session's CSRF token.
// Served by the shared HTTPS server beside each app's own files; no framework, no inline script.

/** An element with attributes (`on` for listeners; true: present, false/null: absent) and children. */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'on') for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
    else if (v === true) e.setAttribute(k, '');
    else if (v !== false && v !== undefined && v !== null) e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

/** The page's content replaced; its heading takes the focus (screen readers and keyboards start there). */
export function showIn(main, nodes) {
  main.replaceChildren(...nodes.filter((n) => n !== null && n !== undefined && n !== false));
  const h = main.querySelector('h1');
  if (h) { h.setAttribute('tabindex', '-1'); h.focus(); }
}

/** A short confirmation in the page's toast. */
export function say(text) {
  const toast = document.getElementById('toast');
  toast.textContent = text;
  toast.classList.add('show');
  setTimeout(() => toast.classList.remove('show'), 3500);
}

export function errorLine() {
  return el('p', { class: 'error', role: 'alert' });
}

/** An error in words on its line: the message, then what to do. */
export function failWith(line, err) {
  line.textContent = err.hint ? `${err.message}. ${err.hint}` : err.message;
}

/**
 * The API client: JSON both ways, the session's CSRF token on every state change, and `loggedOut()` when a
 * request other than logging in finds the session gone. Errors carry the server's message and hint.
 */
export function apiClient({ csrf, loggedOut, server }) {
  return async function api(method, url, body) {
    const headers = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET' && csrf()) headers['x-csrf-token'] = csrf();
    const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {
      if (res.status === 401 && url !== '/api/v1/login' && url !== '/api/v1/setup') await loggedOut();
      const err = new Error(data.message || `the ${server} answered ${res.status}`);
      err.hint = data.hint;
      throw err;
    }
    return data;
  };
}

/**
 * The first account's page: the one-time setup code, a name and a password. `words` are the app's own
 * (title, where the code is shown, the button, the toast); `done` runs once the account exists.
 */
export function setupPage({ show, api, words, done }) {
  const line = errorLine();
  const form = el('form', { on: { submit: async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    try {
      await api('POST', '/api/v1/setup', { code: f.get('code'), name: f.get('name'), password: f.get('password') });
      say(words.made);
      await done();
    } catch (err) { failWith(line, err); }
  } } },
    el('label', { for: 'code' }, 'Setup code'), el('input', { id: 'code', name: 'code', autocomplete: 'off', required: true, inputmode: 'numeric' }),
    el('p', { class: 'muted' }, words.codeHint),
    el('label', { for: 'name' }, 'Your name'), el('input', { id: 'name', name: 'name', autocomplete: 'username', required: true, maxlength: 64 }),
    el('label', { for: 'password' }, 'Password (at least 12 characters)'), el('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'new-password', required: true, minlength: 12 }),
    line, el('button', { class: 'btn', type: 'submit' }, words.button));
  show(el('h1', {}, words.title), form);
}

/**
 * The log-in page: a name and the app's secret (`secret.field` is the request's field and the input's
 * id, `secret.label` what it is called: a PIN or password, or a password).
 */
export function loginPage({ show, api, secret, done }) {
  const line = errorLine();
  const form = el('form', { on: { submit: async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    try {
      await api('POST', '/api/v1/login', { name: f.get('name'), [secret.field]: f.get(secret.field) });
      await done();
    } catch (err) { failWith(line, err); }
  } } },
    el('label', { for: 'name' }, 'Name'), el('input', { id: 'name', name: 'name', autocomplete: 'username', required: true, maxlength: 64 }),
    el('label', { for: secret.field }, secret.label), el('input', { id: secret.field, name: secret.field, type: 'password', autocomplete: 'current-password', required: true }),
    line, el('button', { class: 'btn', type: 'submit' }, 'Log in'));
  show(el('h1', {}, 'Log in'), form);
}
