// The box's web app: one page, no framework, no inline script (the CSP forbids it).
import { apiClient, el, errorLine, failWith, loginPage, say, setupPage, showIn } from './ui.js';

const main = document.getElementById('main');
const who = document.getElementById('who');
const logoutButton = document.getElementById('logout');
let session = { account: null, csrf: null, setup_needed: false };
let poll;

const REASONS = { theft: 'Theft', violence: 'Violence', threat_abuse: 'Threats or abuse', cbo_breach: 'Banned person (order breach)', other: 'Something else' };
const STATES = {
  logged: 'Logged', waiting: 'Waiting for footage', extracting: 'Saving the footage', analysing: 'Finding faces', sealed: 'Sealed for the police',
  sending: 'Sending to the police', delivered: 'Received by the police', failed: 'Needs attention', cancelled: 'Cancelled', closed: 'Closed',
};
const WHEN = [['Now', 0], ['5 min ago', 5], ['10 min ago', 10], ['20 min ago', 20], ['30 min ago', 30]];

function show(...nodes) {
  clearInterval(poll);
  showIn(main, nodes);
}

const api = apiClient({ csrf: () => session.csrf, loggedOut: () => start(), server: 'box' });

async function start() {
  session = await api('GET', '/api/v1/session');
  who.textContent = session.account ? `${session.account.name}${session.account.role === 'manager' ? ' (manager)' : ''}` : '';
  logoutButton.hidden = !session.account;
  if (session.setup_needed && !session.account) return setupPage({ show, api, done: start, words: { title: 'Set up this box', codeHint: 'The code is printed when the box starts; "hindsight web setup-code" shows it again.', button: 'Make the manager account', made: 'Manager account made' } });
  if (!session.account) return loginPage({ show, api, done: start, secret: { field: 'secret', label: 'PIN or password' } });
  return homePage();
}

function stateBadge(state) {
  return el('span', { class: `state ${state}` }, STATES[state] || state);
}

let player;

function incidentCard(i) {
  const d = i.detail;
  return el('div', { class: 'card', 'data-incident': i.id },
    el('div', {}, stateBadge(i.state), ' ', el('strong', {}, REASONS[i.reason] || i.reason)),
    el('div', { class: 'muted' }, `Happened ${new Date(i.happened_at).toLocaleTimeString()} · ${i.cameras.map((c) => c.name).join(', ') || 'no camera'}`),
    d ? el('div', { class: 'muted' }, `Logged by ${d.logged_by} · ${i.cameras.map((c, k) => {
      const gaps = d.cameras[k]?.gaps;
      return `${c.name}: ${c.coverage === null ? 'not cut yet' : `${Math.round(c.coverage * 100)} % covered${gaps ? `, ${gaps} gap${gaps === 1 ? '' : 's'}` : ''}`}`;
    }).join(' · ')}`) : null,
    progressLine(i),
    d ? deliveryLine(d) : null,
    i.failure ? el('div', { class: 'error' }, i.failure) : null,
    // both lists are in the incident's camera order
    d ? el('div', { class: 'choices' }, d.cameras.map((c, k) => {
      if (!c.clip) return null;
      const name = i.cameras[k]?.name ?? c.id;
      return el('button', { class: 'choice', type: 'button', on: { click: () => {
        player?.replaceChildren(el('h3', {}, `${name}: the saved clip`),
          el('video', { class: 'snapshot', controls: true, autoplay: true, muted: true, src: `/api/v1/incidents/${encodeURIComponent(i.id)}/clips/${encodeURIComponent(c.id)}`, 'aria-label': `Saved clip of ${name}` }),
          el('button', { class: 'btn secondary', type: 'button', on: { click: () => player.replaceChildren() } }, 'Close the clip'));
      } } }, `Play ${name}`);
    })) : null);
}

/** How far the face finding is, or what it found. */
function progressLine(i) {
  const p = i.progress;
  if (!p) return null;
  if (p.people === null) return i.state === 'analysing' ? el('div', { class: 'muted' }, `Finding faces: ${p.frames_total ? Math.floor((100 * p.frames_done) / p.frames_total) : 0} % done`) : null;
  return el('div', { class: 'muted' }, `${p.people === 0 ? 'No face found' : `${p.people} ${p.people === 1 ? 'person' : 'people'} found`}${i.detail && i.detail.pictures !== null ? ` (${i.detail.pictures} picture${i.detail.pictures === 1 ? '' : 's'} kept)` : ''}`);
}

/** Managers: where the sealed evidence is on its way to the police. */
function deliveryLine(d) {
  const v = d.delivery;
  if (!v) return null;
  const at = (t) => new Date(t).toLocaleTimeString();
  if (v.state === 'delivered') return el('div', { class: 'muted' }, `Received by the police at ${at(v.received)} (${Math.ceil(v.bytes / 1024)} KB)`);
  if (v.state === 'rejected') return el('div', { class: 'error' }, `The police refused this evidence: ${v.rejected_reason}. Nothing more is sent.`);
  const sent = v.last_sent ? `Sent at ${at(v.last_sent)} (attempt ${v.attempts}), waiting for the police to confirm` : 'Waiting to be sent';
  return el('div', { class: v.last_error ? 'error' : 'muted' }, `${sent}${v.last_error ? `: ${v.last_error}` : ''}`);
}

function pressCard(p) {
  return el('div', { class: 'card', 'data-press': p.id },
    el('div', {}, el('span', { class: 'state failed' }, 'Button pressed'), ' ', el('strong', {}, p.button)),
    el('div', { class: 'muted' }, `At ${new Date(p.pressed_at).toLocaleTimeString()} · ${p.cameras.join(', ')} · held until ${new Date(p.expires_at).toLocaleTimeString()}`),
    el('button', { class: 'btn', type: 'button', on: { click: () => whatStep({ press: p.id, when: new Date(p.pressed_at).toLocaleTimeString(), where: p.button }) } }, 'Say what happened'));
}

/** Staff: the big button and their own incidents. Managers: the console, one tab at a time. */
async function homePage() {
  if (session.account.role === 'manager') return consolePage();
  const view = incidentsView('Something happened?', 'Your incidents');
  show(...view.nodes);
  await view.refresh();
  poll = setInterval(view.refresh, 2000);
}

/** The incidents list with the button to log one (and button presses waiting for a reason). */
function incidentsView(title, listTitle) {
  const list = el('div', { id: 'incidents' });
  const presses = el('div', { id: 'presses' });
  const refresh = async () => {
    try {
      const { presses: waiting } = await api('GET', '/api/v1/presses');
      presses.replaceChildren(...(waiting.length ? [el('h2', {}, 'Button presses waiting for you'), ...waiting.map(pressCard)] : []));
      const { incidents } = await api('GET', '/api/v1/incidents');
      list.replaceChildren(...(incidents.length ? incidents.map(incidentCard) : [el('p', { class: 'muted' }, 'No incidents yet.')]));
    } catch { /* shown on the next try */ }
  };
  player = el('div', { id: 'player' });
  const nodes = [
    el('h1', {}, title),
    presses,
    el('button', { class: 'btn big', type: 'button', id: 'log-incident', on: { click: () => whenStep({ key: newKey() }) } }, 'Log incident'),
    el('h2', {}, listTitle),
    list,
    player,
  ];
  return { nodes, refresh };
}

// The manager console's tabs: each is its own address (#cameras...), so a reload or the back button keeps it.
const CONSOLE_TABS = [
  ['incidents', 'Incidents'], ['cameras', 'Cameras'], ['people', 'Staff and buttons'], ['settings', 'Settings'], ['box', 'This box'], ['audit', 'Audit log'],
];

async function consolePage() {
  liveAbort?.abort();
  const tab = CONSOLE_TABS.some(([id]) => location.hash === `#${id}`) ? location.hash.slice(1) : 'incidents';
  const nav = el('nav', { class: 'tabs', 'aria-label': 'Manager console' },
    CONSOLE_TABS.map(([id, label]) => el('a', { class: 'tab', href: `#${id}`, 'aria-current': id === tab ? 'page' : false }, label)));
  if (tab === 'incidents') {
    const view = incidentsView('Incidents', 'All incidents');
    show(nav, ...view.nodes);
    await view.refresh();
    poll = setInterval(view.refresh, 2000);
    return;
  }
  const pages = {
    cameras: () => [el('h1', {}, 'Cameras'), camerasSection()],
    people: () => [el('h1', {}, 'Staff and buttons'), staffSection(), buttonsSection()],
    settings: () => [el('h1', {}, 'Settings'), settingsSection()],
    box: () => [el('h1', {}, 'This box'), statusSection()],
    audit: () => [el('h1', {}, 'Audit log (read-only)'), auditSection()],
  };
  show(nav, ...pages[tab]());
}

window.addEventListener('hashchange', () => {
  if (session.account?.role === 'manager') consolePage().catch(() => {});
});

function newKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function whenStep(draft) {
  const buttons = WHEN.map(([label, minutes]) => el('button', { class: 'choice', type: 'button', on: { click: () => whereStep({ ...draft, minutes_ago: minutes, when: label }) } }, label));
  const time = el('input', { id: 'at', type: 'time', 'aria-label': 'or the time it happened' });
  show(el('p', { class: 'steps' }, 'Step 1 of 3'), el('h1', {}, 'When did it happen?'), el('div', { class: 'choices' }, buttons),
    el('label', { for: 'at' }, 'Or the time it happened'), time,
    el('button', { class: 'btn secondary', type: 'button', on: { click: () => {
      if (!time.value) return say('Pick a time first');
      const [h, m] = time.value.split(':').map(Number);
      const at = new Date(); at.setHours(h, m, 0, 0);
      if (at > new Date()) at.setDate(at.getDate() - 1);
      whereStep({ ...draft, at: at.toISOString(), when: time.value });
    } } }, 'Use this time'),
    el('button', { class: 'btn secondary', type: 'button', on: { click: start } }, 'Back'));
}

async function whereStep(draft) {
  const { zones, cameras } = await api('GET', '/api/v1/choices');
  const pick = (where) => whatStep({ ...draft, ...where });
  const zoneButtons = zones.map((z) => el('button', { class: 'choice', type: 'button', on: { click: () => pick({ zone: z, where: z }) } }, z));
  const cameraButtons = cameras.map((c) => el('button', { class: 'choice', type: 'button', on: { click: () => pick({ cameras: [c.id], where: c.name }) } }, c.name));
  show(el('p', { class: 'steps' }, `Step 2 of 3 · ${draft.when}`), el('h1', {}, 'Where?'),
    el('div', { class: 'choices' }, ...zoneButtons, el('button', { class: 'choice', type: 'button', on: { click: () => pick({ where: 'the whole shop' }) } }, 'Whole shop')),
    cameraButtons.length ? el('h2', {}, 'Or one camera') : null, cameraButtons.length ? el('div', { class: 'choices' }, cameraButtons) : null,
    el('button', { class: 'btn secondary', type: 'button', on: { click: () => whenStep(draft) } }, 'Back'));
}

function whatStep(draft) {
  const line = errorLine();
  const text = el('textarea', { id: 'justification', maxlength: 2000, placeholder: 'e.g. took two bottles of spirits and left without paying' });
  let sending = false;
  const send = async (reason) => {
    if (sending) return; // a double tap sends once (and the request key makes a resend the same incident)
    if (text.value.trim().length < 10) { line.textContent = 'Write a few words about what happened (at least 10 letters).'; text.focus(); return; }
    sending = true;
    if (draft.press) {
      try {
        const { incident } = await api('POST', `/api/v1/presses/${encodeURIComponent(draft.press)}/complete`, { reason, justification: text.value.trim() });
        say('Incident logged');
        return trackPage(incident);
      } catch (err) { sending = false; return failWith(line, err); }
    }
    const body = { request_key: draft.key, reason, justification: text.value.trim() };
    if (draft.at) body.at = draft.at; else body.minutes_ago = draft.minutes_ago;
    if (draft.zone) body.zone = draft.zone;
    if (draft.cameras) body.cameras = draft.cameras;
    try {
      const { incident } = await api('POST', '/api/v1/incidents', body);
      say('Incident logged');
      trackPage(incident);
    } catch (err) { sending = false; failWith(line, err); }
  };
  show(el('p', { class: 'steps' }, draft.press ? `Button press · ${draft.when} · ${draft.where}` : `Step 3 of 3 · ${draft.when} · ${draft.where}`), el('h1', {}, 'What happened?'),
    el('label', { for: 'justification' }, 'In a few words'), text,
    el('p', { class: 'muted' }, 'Then tap what it was: that sends it.'),
    el('div', { class: 'choices' }, Object.entries(REASONS).map(([code, label]) => el('button', { class: 'choice', type: 'button', 'data-reason': code, on: { click: () => send(code) } }, label))),
    line, el('button', { class: 'btn secondary', type: 'button', on: { click: () => (draft.press ? start() : whereStep(draft)) } }, 'Back'));
}

function trackPage(incident) {
  const card = el('div', {}, incidentCard(incident));
  show(el('h1', {}, 'Incident logged'), el('p', {}, 'The box is saving the footage. You can leave this page: it carries on.'), card,
    el('button', { class: 'btn', type: 'button', on: { click: start } }, 'Done'));
  poll = setInterval(async () => {
    try {
      const { incident: now } = await api('GET', `/api/v1/incidents/${encodeURIComponent(incident.id)}`);
      card.replaceChildren(incidentCard(now));
    } catch { /* next time */ }
  }, 1500);
}

const CAMERA_STATES = { recording: 'Recording', starting: 'Starting', reconnecting: 'Reconnecting', stopped: 'Stopped', disabled: 'Turned off', undecodable: 'Video does not decode', unknown: 'Not reported' };

function camerasSection() {
  const list = el('div', { id: 'cameras' });
  const line = errorLine();
  const result = el('p', { role: 'status' });
  const picture = el('div', {});
  const load = async () => {
    const { cameras, daemon_reporting } = await api('GET', '/api/v1/cameras');
    list.replaceChildren(
      ...(daemon_reporting ? [] : [el('p', { class: 'error' }, 'The recorder is not reporting.')]),
      ...(cameras.length ? cameras.map((c) => el('div', { class: 'card', 'data-camera': c.id },
        el('div', {}, el('strong', {}, c.name), ' ', el('span', { class: `state ${c.state === 'recording' ? 'delivered' : c.state === 'unknown' || c.state === 'disabled' ? '' : 'failed'}` }, CAMERA_STATES[c.state] || c.state)),
        el('div', { class: 'muted' }, `${c.zone ? `${c.zone} · ` : ''}${c.hours_kept.toFixed(1)} h kept · ${c.gaps} gap${c.gaps === 1 ? '' : 's'}${c.fps ? ` · ${c.fps.toFixed(0)} fps` : ''}`),
        c.reason && c.state !== 'recording' ? el('div', { class: 'error' }, c.reason) : null,
        el('div', { class: 'choices' },
          el('button', { class: 'choice', type: 'button', on: { click: async () => {
            try { await api('POST', `/api/v1/cameras/${encodeURIComponent(c.id)}`, { enabled: !c.enabled }); await load(); } catch (err) { failWith(line, err); }
          } } }, c.enabled ? 'Turn off' : 'Turn on'),
          el('button', { class: 'choice', type: 'button', on: { click: async () => {
            const res = await fetch(`/api/v1/cameras/${encodeURIComponent(c.id)}/snapshot`, { credentials: 'same-origin' });
            if (!res.ok) { const e = await res.json().catch(() => ({})); return failWith(line, { message: e.message || 'no picture', hint: e.hint }); }
            picture.replaceChildren(el('img', { src: URL.createObjectURL(await res.blob()), alt: `Picture from ${c.name}`, class: 'snapshot' }));
          } } }, 'Picture'),
          el('button', { class: 'choice', type: 'button', on: { click: () => liveView(c, picture) } }, 'Live')))) : [el('p', { class: 'muted' }, 'No cameras yet.')]),
    );
  };
  const form = el('form', { on: { submit: async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const body = { id: String(f.get('cam-name')).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'camera', name: f.get('cam-name'), url: f.get('cam-url') };
    if (f.get('cam-zone')) body.zone = f.get('cam-zone');
    if (f.get('cam-user')) { body.username = f.get('cam-user'); body.password = f.get('cam-password'); }
    try { await api('POST', '/api/v1/cameras', body); form.reset(); line.textContent = ''; result.textContent = ''; say('Camera added'); await load(); } catch (err) { failWith(line, err); }
  } } },
    el('label', { for: 'cam-name' }, 'Camera name'), el('input', { id: 'cam-name', name: 'cam-name', required: true, maxlength: 100, placeholder: 'Till 2' }),
    el('label', { for: 'cam-url' }, 'Camera address (RTSP)'), el('input', { id: 'cam-url', name: 'cam-url', required: true, maxlength: 2048, placeholder: 'rtsp://192.0.2.10:554/stream1', autocomplete: 'off' }),
    el('label', { for: 'cam-zone' }, 'Zone (optional)'), el('input', { id: 'cam-zone', name: 'cam-zone', maxlength: 64, placeholder: 'Tills' }),
    el('label', { for: 'cam-user' }, 'Camera user name (if it asks for one)'), el('input', { id: 'cam-user', name: 'cam-user', maxlength: 128, autocomplete: 'off' }),
    el('label', { for: 'cam-password' }, 'Camera password'), el('input', { id: 'cam-password', name: 'cam-password', type: 'password', maxlength: 256, autocomplete: 'new-password' }),
    el('button', { class: 'btn secondary', type: 'button', on: { click: async () => {
      const f = new FormData(form);
      const body = { url: f.get('cam-url') };
      if (f.get('cam-user')) { body.username = f.get('cam-user'); body.password = f.get('cam-password'); }
      result.textContent = 'Trying the camera for a few seconds…';
      try {
        const r = await api('POST', '/api/v1/cameras-test', body);
        result.textContent = r.ok ? `It works: ${r.stream.codec ?? 'video'} ${r.stream.width ?? '?'}x${r.stream.height ?? '?'}${r.stream.fps ? ` at ${Math.round(r.stream.fps)} fps` : ''}.` : `It does not work: ${r.problem.message}${r.problem.hint ? `. ${r.problem.hint}` : ''}`;
      } catch (err) { result.textContent = ''; failWith(line, err); }
    } } }, 'Try it'),
    result, line, el('button', { class: 'btn', type: 'submit' }, 'Add camera'));
  const found = el('div', { id: 'found' });
  const find = el('button', { class: 'btn secondary', type: 'button', on: { click: async () => {
    found.replaceChildren(el('p', { role: 'status' }, 'Looking for cameras on the network…'));
    try {
      const { cameras } = await api('POST', '/api/v1/cameras-discover', {});
      found.replaceChildren(...(cameras.length ? cameras.map((d) => el('div', { class: 'card', 'data-found': d.xaddr },
        el('strong', {}, d.name || 'A camera'), d.hardware ? el('span', { class: 'muted' }, ` (${d.hardware})`) : null,
        el('div', { class: 'muted' }, new URL(d.xaddr).host),
        el('button', { class: 'choice', type: 'button', on: { click: async () => {
          // its address for the form below (the user name and password there are used to ask it, if given)
          const f = new FormData(form);
          const body = { xaddr: d.xaddr };
          if (f.get('cam-user')) { body.username = f.get('cam-user'); body.password = f.get('cam-password'); }
          try {
            const r = await api('POST', '/api/v1/cameras-onvif', body);
            form.querySelector('#cam-url').value = r.url;
            if (!form.querySelector('#cam-name').value) form.querySelector('#cam-name').value = d.name || '';
            result.textContent = 'Address filled in below: try it, then add it.';
            form.querySelector('#cam-name').focus();
          } catch (err) { failWith(line, err); }
        } } }, 'Use this camera'))) : [el('p', { class: 'muted' }, 'No camera answered. Add one by its address below.')]));
    } catch (err) { found.replaceChildren(); failWith(line, err); }
  } } }, 'Find cameras on the network');
  load().catch((err) => failWith(line, err));
  return el('section', { 'aria-label': 'Cameras' }, list, picture, el('h2', {}, 'Add a camera'), find, found, form);
}

let liveAbort;

/** The camera live: fragmented MP4 streamed from the box into the browser's MediaSource (no plug-in, no extra port). */
async function liveView(c, into) {
  liveAbort?.abort();
  const abort = new AbortController();
  liveAbort = abort;
  const video = el('video', { class: 'snapshot', muted: true, autoplay: true, playsinline: true, 'aria-label': `Live view of ${c.name}` });
  video.muted = true;
  const status = el('p', { role: 'status' }, 'Connecting…');
  const close = el('button', { class: 'btn secondary', type: 'button', on: { click: () => { abort.abort(); into.replaceChildren(); } } }, 'Close live view');
  into.replaceChildren(el('h3', {}, `${c.name}, live`), video, status, close);
  try {
    const res = await fetch(`/api/v1/cameras/${encodeURIComponent(c.id)}/live`, { credentials: 'same-origin', signal: abort.signal });
    if (!res.ok) { const e = await res.json().catch(() => ({})); status.textContent = e.message || `no live view (${res.status})`; return; }
    const mime = res.headers.get('content-type');
    if (!window.MediaSource || !MediaSource.isTypeSupported(mime)) { status.textContent = `This browser cannot play this camera's video (${mime}).`; abort.abort(); return; }
    const ms = new MediaSource();
    video.src = URL.createObjectURL(ms);
    await new Promise((r) => ms.addEventListener('sourceopen', r, { once: true }));
    const sb = ms.addSourceBuffer(mime);
    sb.mode = 'sequence';
    const queue = [];
    const pump = () => { if (!sb.updating && queue.length) sb.appendBuffer(queue.shift()); };
    sb.addEventListener('updateend', () => {
      // keep the last 30 s only, and stay close to live
      if (!sb.updating && video.buffered.length && video.currentTime - video.buffered.start(0) > 30) { sb.remove(0, video.currentTime - 10); return; }
      if (video.buffered.length && video.buffered.end(0) - video.currentTime > 3) video.currentTime = video.buffered.end(0) - 0.5;
      pump();
    });
    const reader = res.body.getReader();
    status.textContent = 'Live';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      queue.push(value);
      pump();
      if (video.paused) video.play().catch(() => {});
    }
    status.textContent = 'The live view stopped.';
  } catch (err) {
    if (!abort.signal.aborted) status.textContent = `The live view stopped: ${err.message}`;
  }
}

function staffSection() {
  const line = errorLine();
  const list = el('ul', {});
  const load = async () => {
    const { accounts } = await api('GET', '/api/v1/accounts');
    list.replaceChildren(...accounts.map((a) => {
      if (a.role !== 'staff') return el('li', {}, `${a.name} (${a.role})`);
      const pin = el('input', { id: `pin-${a.id}`, inputmode: 'numeric', pattern: '[0-9]{6,12}', autocomplete: 'off', 'aria-label': `New PIN for ${a.name}` });
      return el('li', { class: 'card' }, `${a.name} (staff${a.disabled ? ', turned off' : ''})`,
        el('div', { class: 'choices' }, pin,
          el('button', { class: 'choice', type: 'button', on: { click: async () => {
            try { await api('POST', `/api/v1/accounts/${a.id}`, { pin: pin.value }); say(`New PIN set for ${a.name}`); await load(); } catch (err) { failWith(line, err); }
          } } }, 'Set new PIN'),
          el('button', { class: 'choice', type: 'button', on: { click: async () => {
            try { await api('POST', `/api/v1/accounts/${a.id}`, { disabled: !a.disabled }); await load(); } catch (err) { failWith(line, err); }
          } } }, a.disabled ? 'Turn on' : 'Turn off')));
    }));
  };
  const form = el('form', { on: { submit: async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    try {
      await api('POST', '/api/v1/accounts', { name: f.get('staff-name'), pin: f.get('pin') });
      form.reset(); line.textContent = ''; say('Staff account added'); await load();
    } catch (err) { failWith(line, err); }
  } } },
    el('label', { for: 'staff-name' }, 'Name'), el('input', { id: 'staff-name', name: 'staff-name', required: true, maxlength: 64, autocomplete: 'off' }),
    el('label', { for: 'pin' }, 'PIN (6 to 12 digits)'), el('input', { id: 'pin', name: 'pin', required: true, inputmode: 'numeric', pattern: '[0-9]{6,12}', autocomplete: 'off' }),
    line, el('button', { class: 'btn', type: 'submit' }, 'Add staff member'));
  load().catch(() => {});
  return el('section', { 'aria-labelledby': 'staff-h' }, el('h2', { id: 'staff-h' }, 'Staff accounts'), list, form);
}

function buttonsSection() {
  const line = errorLine();
  const list = el('ul', {});
  const shown = el('div', {});
  const load = async () => {
    const { buttons } = await api('GET', '/api/v1/buttons');
    list.replaceChildren(...buttons.map((b) => el('li', {}, `${b.name}${b.zone ? ` (${b.zone})` : ' (every camera)'}`)));
  };
  const form = el('form', { on: { submit: async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    try {
      const r = await api('POST', '/api/v1/buttons', { name: f.get('button-name'), zone: f.get('button-zone') || undefined });
      form.reset(); line.textContent = '';
      shown.replaceChildren(el('p', {}, 'Set the button to send this request (shown only now):'), el('pre', { class: 'card' }, r.request));
      await load();
    } catch (err) { failWith(line, err); }
  } } },
    el('label', { for: 'button-name' }, 'Button name'), el('input', { id: 'button-name', name: 'button-name', required: true, maxlength: 64, autocomplete: 'off' }),
    el('label', { for: 'button-zone' }, 'Zone (empty: every camera)'), el('input', { id: 'button-zone', name: 'button-zone', maxlength: 64, autocomplete: 'off' }),
    line, el('button', { class: 'btn', type: 'submit' }, 'Add button'));
  load().catch(() => {});
  return el('section', { 'aria-labelledby': 'buttons-h' }, el('h2', { id: 'buttons-h' }, 'Incident buttons'), list, shown, form);
}

const LINK_STATES = { connected: 'Connected', connecting: 'Not connected: trying again', off: 'Turned off', not_enrolled: 'Not set up with the police force yet' };

function statusSection() {
  const box = el('dl', { class: 'card' });
  const line = errorLine();
  api('GET', '/api/v1/status').then((st) => {
    const ago = (s) => (s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`);
    const rows = [
      ['Box', `${st.device}${st.store ? ` (${st.store})` : ''}`],
      ['Link to the police force', `${LINK_STATES[st.force_link.state] || st.force_link.state}${st.force_link.error ? ` (${st.force_link.error})` : ''}`],
      ['Waiting to be sent', st.outbox.waiting ? `${st.outbox.waiting} incident${st.outbox.waiting === 1 ? '' : 's'} (${Math.ceil(st.outbox.bytes / 1024)} KB), the oldest for ${ago(st.outbox.oldest_age_s)}` : 'Nothing'],
      ['Face finding', st.models.available ? `Ready (${st.models.files.map((m) => m.name).join(', ')})` : `Not available: ${st.models.reason}. Footage is still saved and sent`],
      ['Clock', st.clock.synced ? 'in time' : 'not checked against a time server'],
      ['Software', st.version], ['Running since', new Date(st.up_since).toLocaleString()],
      ['Certificate SHA-256', st.certificate_sha256 || '-'], ['Audit rows', String(st.audit_rows)],
    ];
    box.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  }).catch((err) => failWith(line, err));
  return el('section', { 'aria-label': 'Status of this box' }, line, box);
}

const UNITS = { hours: 'hours', seconds: 'seconds', minutes: 'minutes', incidents: 'incidents' };

/** The box's settings a manager may change, each within its range (and the force's caps, said as such). */
function settingsSection() {
  const line = errorLine();
  const form = el('form', {});
  const load = (settings) => {
    form.replaceChildren(...settings.map((s) => {
      const id = `set-${s.key.replace(/[^a-z0-9]+/g, '-')}`;
      const limit = `${s.min} to ${s.max} ${UNITS[s.unit]}${s.max_set_by === 'force' ? ' (the most is set by the police force)' : ''}`;
      return el('div', { class: 'card', 'data-setting': s.key },
        el('label', { for: id }, `${s.label} (${UNITS[s.unit]})`),
        el('p', { class: 'muted', id: `${id}-help` }, `${s.help} Allowed: ${limit}. Default: ${s.default}.`),
        el('input', { id, name: s.key, type: 'number', inputmode: s.integer ? 'numeric' : 'decimal', min: s.min, max: s.max, step: s.integer ? 1 : 'any', value: s.value, required: true, 'aria-describedby': `${id}-help` }),
        s.changed ? el('button', { class: 'choice', type: 'button', on: { click: () => save({ [s.key]: null }) } }, `Back to ${s.default}`) : null);
    }), line, el('button', { class: 'btn', type: 'submit' }, 'Save settings'));
  };
  const save = async (values) => {
    try {
      const { settings } = await api('PUT', '/api/v1/settings', { values });
      line.textContent = '';
      load(settings);
      say('Settings saved: they apply now');
    } catch (err) { failWith(line, err); }
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const values = {};
    for (const input of form.querySelectorAll('input[type=number]')) if (input.value !== input.defaultValue) values[input.name] = Number(input.value);
    if (!Object.keys(values).length) { say('Nothing was changed'); return; }
    save(values);
  });
  api('GET', '/api/v1/settings').then(({ settings }) => load(settings)).catch((err) => failWith(line, err));
  return el('section', { 'aria-label': 'Settings' }, el('p', {}, 'Changes apply at once and are written in the audit log.'), form);
}

const AUDIT_FILTERS = [['', 'Everything'], ['incident.', 'Incidents'], ['evidence.', 'Evidence'], ['camera.', 'Cameras'], ['button.', 'Buttons'], ['web.', 'Logins and accounts'], ['settings.', 'Settings']];

function auditSection() {
  const list = el('ol', { class: 'audit', reversed: true });
  const filter = el('select', { id: 'audit-filter' }, AUDIT_FILTERS.map(([v, label]) => el('option', { value: v }, label)));
  const load = async () => {
    const q = filter.value ? `?action=${encodeURIComponent(filter.value)}` : '';
    const { rows } = await api('GET', `/api/v1/audit${q}`);
    list.replaceChildren(...rows.map((r) => el('li', { value: r.seq }, el('strong', {}, r.action), ` · ${new Date(r.time).toLocaleString()} · ${r.actor.type} ${r.actor.id}${r.result !== 'ok' ? ` · ${r.result}` : ''}`)));
  };
  filter.addEventListener('change', () => load().catch(() => {}));
  load().catch(() => {});
  return el('section', { 'aria-label': 'Audit log' }, el('label', { for: 'audit-filter' }, 'Show'), filter, list);
}

logoutButton.addEventListener('click', async () => {
  try { await api('POST', '/api/v1/logout'); } catch { /* ended anyway */ }
  session = { account: null, csrf: null };
  await start();
});

start().catch((err) => show(el('h1', {}, 'The box did not answer'), el('p', {}, err.message)));
