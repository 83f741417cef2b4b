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
