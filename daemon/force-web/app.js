// The force's reviewers' console: one page, no framework, no inline script (the CSP forbids it).
import { apiClient, el, errorLine, failWith, loginPage, say, setupPage, showIn } from './ui.js';

const main = document.getElementById('main');
const who = document.getElementById('who');
const logoutButton = document.getElementById('logout');
let session = { account: null, csrf: null, setup_needed: false };

const RANK = { reviewer: 1, supervisor: 2, admin: 3 };
const ROLE_WORDS = { reviewer: 'reviewer', supervisor: 'supervisor', admin: 'admin' };
const CASE_STATES = {
  to_review: 'To review', second_review: 'Waiting for a second reviewer', confirmed: 'Possible match confirmed', reviewed: 'Reviewed',
};
const DECISION_WORDS = { possible_match: 'possible match', no_match: 'no match', not_usable: 'not usable' };

const show = (...nodes) => showIn(main, nodes);
const api = apiClient({ csrf: () => session.csrf, loggedOut: () => start(), server: 'console' });

const may = (role) => session.account && RANK[session.account.role] >= RANK[role];
const when = (iso) => new Date(iso).toLocaleString();
const between = (w) => `${new Date(w.from).toLocaleString()} to ${new Date(w.to).toLocaleTimeString()}`;

async function start() {
  session = await api('GET', '/api/v1/session');
  who.textContent = session.account ? `${session.account.name} (${ROLE_WORDS[session.account.role] || session.account.role})` : '';
  logoutButton.hidden = !session.account;
  if (session.setup_needed && !session.account) return setupPage({ show, api, words: { title: 'Set up the console', codeHint: 'The code is printed when the console starts; "hindsight-force console setup-code" shows it again.', button: 'Make the admin account', made: 'Admin account made' }, done: () => { history.replaceState(null, '', '#accounts'); return start(); } });
  if (!session.account) return loginPage({ show, api, done: start, secret: { field: 'password', label: 'Password' } });
  return route();
}

// Each page is its own address (#triage, #cases/ID...), so a reload or the back button keeps it.
function tabs() {
  return [['triage', 'Triage', 'supervisor'], ['cases', 'Cases', 'reviewer'], ['series', 'Series', 'reviewer'], ['fleet', 'Fleet', 'admin'], ['accounts', 'Accounts', 'admin']].filter(([, , role]) => may(role));
}

/** At least three words: the console asks before the server refuses. */
const words = (text) => text.trim().split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w)).length;

async function route() {
  const [tab, id] = location.hash.slice(1).split('/').map(decodeURIComponent);
  const allowed = tabs();
  const home = may('admin') ? 'accounts' : may('supervisor') ? 'triage' : 'cases';
  const current = allowed.some(([t]) => t === tab) ? tab : home;
  const nav = el('nav', { class: 'tabs', 'aria-label': 'Console' },
    allowed.map(([t, label]) => el('a', { class: 'tab', href: `#${t}`, 'aria-current': t === current ? 'page' : false }, label)));
  try {
    if (current === 'triage') return id ? await triageIncidentPage(nav, id) : await triagePage(nav);
    if (current === 'cases') return id ? await reviewPage(nav, id) : await casesPage(nav);
    if (current === 'series') return await seriesPage(nav);
    if (current === 'fleet') return id ? await boxPage(nav, id) : await fleetPage(nav);
    return await accountsPage(nav);
  } catch (err) {
    show(nav, el('h1', {}, 'That could not be shown'), el('p', { class: 'error' }, err.hint ? `${err.message}. ${err.hint}` : err.message));
  }
}

window.addEventListener('hashchange', () => {
  if (session.account) route();
});

// --- triage (supervisors) ---

async function triagePage(nav) {
  const { incidents } = await api('GET', '/api/v1/triage');
  show(nav, el('h1', {}, 'Triage'),
    el('p', {}, 'Incidents from the shops wait here. Nothing of them is searched until you accept one with a crime reference. Opening an incident shows its faces and is recorded in the audit log.'),
    incidents.length ? el('div', { id: 'triage-queue' }, incidents.map((i) => el('div', { class: 'card', 'data-incident': i.incident },
      el('h2', {}, `${i.store} · incident ${i.incident}`),
      el('div', { class: 'muted' }, `Footage ${between(i.window)} · box ${i.device} · ${i.subjects} ${i.subjects === 1 ? 'person' : 'people'} · received ${when(i.received)}`),
      el('div', { class: 'muted' }, `Deleted on ${when(i.delete_at)} if nobody triages it`),
      el('a', { class: 'btn', href: `#triage/${encodeURIComponent(i.envelope)}`, 'aria-label': `Open incident ${i.incident} from ${i.store}` }, 'Open')))) : el('p', { class: 'muted' }, 'No incident waits for triage.'));
}

async function triageIncidentPage(nav, id) {
  const { incident: i } = await api('GET', `/api/v1/triage/${encodeURIComponent(id)}`);
  const line = errorLine();
  const subjects = i.subjects.map((s) => el('div', { class: 'card', 'data-subject': s.id },
    el('h3', {}, `Person ${s.id}`),
    el('div', { class: 'muted' }, s.cameras.length ? `Seen on ${s.cameras.join(', ')}` : ''),
    el('div', { class: 'pictures' }, s.crops.map((src, k) => el('img', { src, alt: `Face ${k + 1} of person ${s.id}` }))),
    s.searchable
      ? el('label', { class: 'check' }, el('input', { type: 'checkbox', name: 'subject', value: s.id, checked: true }), `Search for person ${s.id}`)
      : el('p', { class: 'muted' }, 'This person cannot be searched (the box sent pictures only).')));
  const accept = el('form', { on: { submit: async (e) => {
    e.preventDefault();
    const f = new FormData(accept);
    const chosen = [...main.querySelectorAll('input[name=subject]:checked')].map((c) => c.value);
    if (!chosen.length) return failWith(line, { message: 'Choose at least one person to search' });
    if (words(f.get('necessity')) < 3) return failWith(line, { message: 'Say why a search is necessary, in at least three words' });
    try {
      const r = await api('POST', `/api/v1/triage/${encodeURIComponent(i.envelope)}/accept`, { crime_ref: f.get('crime_ref'), necessity: f.get('necessity'), subjects: chosen });
      say(`Accepted under ${r.accepted.crime_ref}: ${r.lists.length} ${r.lists.length === 1 ? 'person' : 'people'} searched. Reviewers find it under Cases.`);
      location.hash = '#triage';
    } catch (err) { failWith(line, err); }
  } } },
    el('h2', {}, 'Accept for search'),
    el('label', { for: 'crime_ref' }, 'Crime reference'), el('input', { id: 'crime_ref', name: 'crime_ref', required: true, maxlength: 40, autocomplete: 'off', placeholder: 'e.g. CR/2026/0417' }),
    el('label', { for: 'necessity' }, 'Why a search is necessary and proportionate'), el('textarea', { id: 'necessity', name: 'necessity', required: true, maxlength: 2000 }),
    el('button', { class: 'btn', type: 'submit' }, 'Accept and search'));
  const reject = el('form', { on: { submit: async (e) => {
    e.preventDefault();
    const f = new FormData(reject);
    if (words(f.get('reason')) < 3) return failWith(line, { message: 'Say why it is rejected, in at least three words' });
    try {
      await api('POST', `/api/v1/triage/${encodeURIComponent(i.envelope)}/reject`, { reason: f.get('reason') });
      say('Rejected: its evidence is deleted');
      location.hash = '#triage';
    } catch (err) { failWith(line, err); }
  } } },
    el('h2', {}, 'Or reject it'),
    el('p', { class: 'muted' }, 'Nothing is searched and its evidence is deleted now.'),
    el('label', { for: 'reason' }, 'Why it is rejected'), el('textarea', { id: 'reason', name: 'reason', required: true, maxlength: 2000 }),
    el('button', { class: 'btn danger', type: 'submit' }, 'Reject and delete'));
  show(nav, el('h1', {}, `Incident ${i.incident}`),
    el('p', { class: 'note' }, 'Opening this incident is recorded in the audit log, and so is every look at a face. Choose who to search only if a search is necessary for a recorded crime.'),
    el('dl', { class: 'facts' },
      el('dt', {}, 'Shop'), el('dd', {}, `${i.store} (box ${i.device})`),
      el('dt', {}, 'Footage'), el('dd', {}, between(i.window)),
      el('dt', {}, 'Deleted if not triaged'), el('dd', {}, when(i.delete_at))),
    i.context.length ? el('div', { class: 'pictures' }, i.context.map((src, k) => el('img', { class: 'context', src, alt: `Scene ${k + 1} of the incident` }))) : null,
    el('h2', {}, 'People found'), ...subjects, line, accept, reject,
    el('a', { class: 'btn secondary', href: '#triage' }, 'Back to triage'));
}

// --- cases and review (reviewers) ---

async function casesPage(nav) {
  const { cases } = await api('GET', '/api/v1/cases');
  show(nav, el('h1', {}, 'Cases'),
    el('p', {}, 'Incidents accepted for search. Candidates are proposals from the custody gallery for trained reviewers, never identifications.'),
    cases.length ? el('div', { id: 'case-queue' }, cases.map((c) => el('div', { class: 'card', 'data-case': c.incident },
      el('h2', {}, `${c.crime_ref} · ${c.store}`),
      el('div', {}, el('span', { class: `state ${c.state}` }, CASE_STATES[c.state] || c.state)),
      el('div', { class: 'muted' }, `Incident ${c.incident} · footage ${between(c.window)} · accepted ${when(c.accepted)}`),
      el('div', { class: 'muted' }, c.subjects.map((s) => `person ${s.id}: ${s.candidates} candidate${s.candidates === 1 ? '' : 's'}${s.confirmed ? ' (confirmed)' : s.decisions ? `, ${s.decisions} decision${s.decisions === 1 ? '' : 's'}` : ''}`).join(' · ')),
      el('a', { class: 'btn', href: `#cases/${encodeURIComponent(c.envelope)}`, 'aria-label': `Review case ${c.crime_ref}, incident ${c.incident}` }, 'Review')))) : el('p', { class: 'muted' }, 'No case yet: a supervisor accepts incidents at triage.'));
}

// --- series (reviewers) ---

/** The same unknown person across shops: each series with its cases; a reviewer splits a wrong link with a reason. */
async function seriesPage(nav) {
  const { series } = await api('GET', '/api/v1/series');
  const line = errorLine();
  show(nav, el('h1', {}, 'Series'),
    el('p', {}, 'People in accepted cases who look like the same unknown person. A link is a proposal: split it when they are not the same person.'),
    line,
    series.length ? series.map((g, n) => el('section', { class: 'card', 'data-series': String(n + 1), 'aria-label': `Series ${n + 1}` },
      el('h2', {}, `Seen at ${g.stores} shop${g.stores === 1 ? '' : 's'} in ${g.days} day${g.days === 1 ? '' : 's'}`),
      el('ul', {}, g.members.map((m) => el('li', {}, `${m.crime_ref ?? '-'} · ${m.store} · ${when(m.first_seen)} · person ${m.subject} `,
        el('a', { href: `#cases/${encodeURIComponent(m.envelope)}` }, 'open the case')))),
      g.links.map((l) => {
        const storeOf = (x) => g.members.find((m) => m.envelope === x.envelope && m.subject === x.subject)?.store ?? '?';
        const reason = el('input', { 'aria-label': `Why the person at ${storeOf(l.a)} and the person at ${storeOf(l.b)} are not the same`, maxlength: 2000, placeholder: 'why (at least three words)' });
        return el('div', { class: 'choices' }, reason, el('button', { class: 'choice', type: 'button', on: { click: async () => {
          if (words(reason.value) < 3) return failWith(line, { message: 'say why, in at least three words' });
          try {
            await api('POST', '/api/v1/series/split', { a: l.a, b: l.b, reason: reason.value });
            say('Link split');
            await seriesPage(nav);
          } catch (err) { failWith(line, err); }
        } } }, `Not the same person (${storeOf(l.a)} / ${storeOf(l.b)}, score ${l.score})`));
      }))) : el('p', { class: 'muted' }, 'No series: no two people in accepted cases look alike.'));
}

function standing(s) {
  if (s.confirmed) return el('p', { class: 'state confirmed' }, `Possible match with ${s.confirmed}, confirmed by two reviewers`);
  const named = s.decisions.filter((d) => d.decision === 'possible_match');
  if (named.length === 1 && s.decisions.length === 1) return el('p', { class: 'state second_review' }, `${named[0].reviewer} named ${named[0].person}: a second, different reviewer must agree before it is a possible match`);
  if (!s.decisions.length) return el('p', { class: 'state to_review' }, 'Not reviewed yet');
  return el('p', { class: 'state' }, 'No possible match confirmed');
}

function subjectSection(c, s, refresh) {
  const line = errorLine();
  const reason = el('textarea', { id: `reason-${s.id}`, maxlength: 2000 });
  const person = s.candidates.length ? el('select', { id: `person-${s.id}` }, s.candidates.map((k) => el('option', { value: k.person }, `${k.person} (rank ${k.rank}, score ${k.score.toFixed(3)})`))) : null;
  const decide = async (decision) => {
    if (words(reason.value) < 3) { failWith(line, { message: 'Say why, in at least three words' }); reason.focus(); return; }
    const body = { subject: s.id, decision, reason: reason.value.trim() };
    if (decision === 'possible_match') body.person = person.value;
    try {
      const r = await api('POST', `/api/v1/cases/${encodeURIComponent(c.envelope)}/decisions`, body);
      say(r.confirmed ? `Possible match with ${r.confirmed} confirmed by two reviewers` : 'Decision recorded');
      await refresh();
    } catch (err) { failWith(line, err); }
  };
  const mine = s.decisions.find((d) => d.mine);
  return el('section', { class: 'card', 'data-subject': s.id, 'aria-labelledby': `h-${s.id}` },
    el('h2', { id: `h-${s.id}` }, `Person ${s.id}`),
    standing(s),
    el('div', { class: 'compare' },
      el('div', {},
        el('h3', {}, 'From the shop'),
        el('div', { class: 'pictures' },
          s.crops.map((src, k) => el('img', { src, alt: `Face ${k + 1} of person ${s.id}` })),
          s.context.map((src) => el('img', { class: 'context', src, alt: 'The scene at the shop' })))),
      el('div', {},
        el('h3', {}, 'Candidates from the custody gallery'),
        s.candidates.length
          ? el('div', { class: 'candidates' }, s.candidates.map((k) => el('div', { class: 'candidate', 'data-person': k.person },
            el('img', { src: k.photo, alt: `Custody photo of ${k.person}` }),
            el('div', {}, el('strong', {}, k.person)),
            el('div', { class: 'muted score' }, `Rank ${k.rank} · score ${k.score.toFixed(3)}`))))
          : el('p', { class: 'muted' }, s.note || 'No candidate.'))),
    el('h3', {}, 'Decisions'),
    s.decisions.length
      ? el('ul', { class: 'decisions' }, s.decisions.map((d) => el('li', {}, `${d.reviewer}${d.mine ? ' (you)' : ''}: ${DECISION_WORDS[d.decision] || d.decision}${d.person ? ` with ${d.person}` : ''} · ${when(d.at)} · "${d.reason}"`)))
      : el('p', { class: 'muted' }, 'None yet.'),
    el('fieldset', {},
      el('legend', {}, mine ? `Change your decision on person ${s.id}` : `Your decision on person ${s.id}`),
      el('label', { for: `reason-${s.id}` }, 'Why (at least three words)'), reason,
      person ? el('label', { for: `person-${s.id}` }, 'Candidate, for a possible match') : null, person,
      person ? el('button', { class: 'btn', type: 'button', on: { click: () => decide('possible_match') } }, 'Possible match') : null,
      el('button', { class: 'btn secondary', type: 'button', on: { click: () => decide('no_match') } }, 'No match'),
      el('button', { class: 'btn secondary', type: 'button', on: { click: () => decide('not_usable') } }, 'Not usable'),
      line));
}

async function reviewPage(nav, id) {
  const { case: c } = await api('GET', `/api/v1/cases/${encodeURIComponent(id)}`);
  const holder = el('div', {});
  const refresh = async () => {
    const { case: now } = await api('GET', `/api/v1/cases/${encodeURIComponent(id)}`);
    holder.replaceChildren(...now.subjects.map((s) => subjectSection(now, s, refresh)));
  };
  holder.replaceChildren(...c.subjects.map((s) => subjectSection(c, s, refresh)));
  show(nav, el('h1', {}, `Case ${c.crime_ref}`),
    el('dl', { class: 'facts' },
      el('dt', {}, 'Incident'), el('dd', {}, `${c.incident} from ${c.store} (box ${c.device})`),
      el('dt', {}, 'Footage'), el('dd', {}, between(c.window)),
      el('dt', {}, 'Why a search is necessary'), el('dd', {}, c.necessity)),
    el('p', { class: 'note' }, 'Candidates are proposals from the custody gallery for trained reviewers, never identifications. Every look at a face and every decision is recorded in the audit log with your name and the crime reference.'),
    may('supervisor') ? el('a', { class: 'btn', href: `/api/v1/cases/${encodeURIComponent(c.envelope)}/report`, download: true }, 'Download case report') : null,
    holder,
    may('supervisor') ? await mastersSection(c) : null,
    el('a', { class: 'btn secondary', href: '#cases' }, 'Back to cases'));
}

const MASTER_ACTIONS = { hold: 'Keep them on the box for a year', fetch: 'Fetch them to the force' };
const MASTER_OPS = { hold_incident: 'Keep on the box', upload_masters: 'Fetch' };

/**
 * Supervisors: the case's master clips (the native footage the box cut, kept there for a limited time):
 * which the force holds (download), and two signed commands to the box, each with a reason.
 */
async function mastersSection(c) {
  const box = el('section', { id: 'masters', 'aria-labelledby': 'masters-title' });
  const reason = el('textarea', { id: 'masters-reason', maxlength: 2000 });
  const line = errorLine();
  const result = el('div', { id: 'masters-result', 'aria-live': 'polite' });
  const url = `/api/v1/cases/${encodeURIComponent(c.envelope)}/masters`;
  const render = (m) => {
    const held = new Map(m.held.map((h) => [h.sha256, h]));
    box.replaceChildren(...[
      el('h2', { id: 'masters-title' }, 'Master clips'),
      el('p', { class: 'muted' }, "The box keeps each camera's native footage of the incident for a limited time. Keep it there longer, or fetch it to the force: it comes sealed, and its SHA-256 must match the evidence manifest."),
      m.named.length ? el('table', { class: 'fleet' },
        el('thead', {}, el('tr', {}, ['Camera', 'Size', 'SHA-256', 'At the force'].map((x) => el('th', { scope: 'col' }, x)))),
        el('tbody', {}, m.named.map((n) => {
          const h = held.get(n.sha256);
          return el('tr', {}, el('td', {}, n.camera), el('td', {}, `${Math.ceil(n.bytes / 1024)} KB`), el('td', { class: 'hash' }, n.sha256.slice(0, 16) + '…'),
            el('td', {}, h ? el('a', { href: `${url}/${h.envelope}`, download: true }, `Download (received ${when(h.received)})`) : 'not fetched'));
        }))) : el('p', { class: 'muted' }, 'The evidence names no master clip.'),
      m.commands.length ? el('ul', { class: 'decisions' }, m.commands.map((x) => el('li', {}, `${when(x.issued)} · ${MASTER_OPS[x.op] || x.op} · ${x.state}${x.error ? ` (${x.error})` : ''}`))) : null,
      el('fieldset', {},
        el('legend', {}, 'Ask the box'),
        el('label', { for: 'masters-reason' }, 'Why (at least three words; recorded in the audit log with the crime reference)'), reason,
        Object.entries(MASTER_ACTIONS).map(([action, label]) => el('button', { class: 'btn secondary', type: 'button', 'data-masters': action, on: { click: () => ask(action) } }, label)),
        line, result)].filter(Boolean));
  };
  const ask = async (action) => {
    line.textContent = '';
    if (words(reason.value) < 3) { failWith(line, { message: 'Say why, in at least three words' }); reason.focus(); return; }
    try {
      const sent = await api('POST', url, { action, reason: reason.value.trim() });
      result.replaceChildren(el('p', { class: 'muted' }, `${MASTER_ACTIONS[action]}: sent, waiting for the box...`));
      // the box answers within seconds when online; the command expires after five minutes
      let m = await api('GET', url);
      for (let i = 0; i < 310; i++) {
        const now = m.commands.find((x) => x.id === sent.id);
        if (now && ['done', 'failed', 'expired'].includes(now.state)) {
          const text = now.state !== 'done' ? `${now.state}${now.error ? `: ${now.error}` : ''}`
            : action === 'hold' ? `the box keeps them until ${new Date(now.reply.masters_kept_until).toLocaleDateString()}`
            : now.reply.envelopes.length ? `the box is sending ${now.reply.envelopes.length} clip(s); they appear above as they arrive` : 'they are already on their way';
          render(m);
          result.replaceChildren(el('p', { class: now.state === 'done' ? 'state confirmed' : 'error' }, `${MASTER_ACTIONS[action]}: ${text}`));
          return;
        }
        await new Promise((r) => setTimeout(r, 1000));
        m = await api('GET', url);
      }
    } catch (err) { failWith(line, err); }
  };
  render(await api('GET', url));
  return box;
}

// --- fleet (admins) ---

const STATE_WORDS = { online: 'Online', offline: 'Offline', revoked: 'Revoked', 'never seen': 'Never seen' };
const OP_WORDS = { ping: 'Ping', get_status: 'Get its status', get_config: 'Get its configuration', revoke_sessions: "Sign out the shop's managers", restart: 'Restart the box' };
const ALARM_WORDS = {
  'camera.down': 'camera down', 'camera.undecodable': 'camera footage undecodable', 'clock.unsynced': 'clock not synchronised',
  'uplink.outbox_growing': 'evidence waiting to be sent', 'uplink.keyset_expiring': 'force key set expiring', 'buffer.disk_low': 'disk low',
  'recorder.disk_full': 'disk full', 'recorder.db_write_failed': 'database writes failing', 'incident.needs_person': 'incident needs a person',
};
const alarmWords = (kind) => ALARM_WORDS[kind] || kind.replace(/[._]/g, ' ');
const ago = (iso) => (iso ? `${Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000))} s ago` : 'never');
const gb = (b) => (b === null || b === undefined ? '-' : `${(b / 1e9).toFixed(1)} GB`);

/** What needs someone's eyes first: the audit log failing its check, a box offline, any alarm. */
function trouble(b) {
  const out = [];
  if (b.audit?.status === 'alarm') out.push('audit log fails its check');
  if (b.state === 'offline') out.push('offline');
  if (b.cameras && b.cameras.recording < b.cameras.total) out.push(`${b.cameras.total - b.cameras.recording} camera(s) not recording`);
  for (const a of b.alarms) out.push(alarmWords(a.kind));
  return out;
}

async function fleetPage(nav) {
  const { boxes } = await api('GET', '/api/v1/fleet');
  const sorted = [...boxes].sort((a, b) => trouble(b).length - trouble(a).length || a.device.localeCompare(b.device));
  const count = (st) => boxes.filter((b) => b.state === st).length;
  show(nav, el('h1', {}, 'Fleet'),
    el('p', {}, `${boxes.length} box(es): ${count('online')} online, ${count('offline')} offline, ${count('never seen')} never seen, ${count('revoked')} revoked. Boxes that need attention come first.`),
    boxes.length ? el('table', { class: 'fleet', id: 'fleet' },
      el('thead', {}, el('tr', {}, ['Box', 'Shop', 'State', 'Cameras', 'Free disk', 'Last health', 'Config', 'Needs attention'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, sorted.map((b) => {
        const t = trouble(b);
        return el('tr', { 'data-box': b.device, class: t.length ? 'attention' : '' },
          el('td', {}, el('a', { href: `#fleet/${encodeURIComponent(b.device)}` }, b.device)),
          el('td', {}, b.store),
          el('td', {}, el('span', { class: `state ${b.state.replace(' ', '_')}` }, STATE_WORDS[b.state] || b.state)),
          el('td', {}, b.cameras ? `${b.cameras.recording}/${b.cameras.total} recording` : '-'),
          el('td', {}, gb(b.free_disk_bytes)),
          el('td', {}, ago(b.health_at)),
          el('td', {}, b.config === 'none' ? '-' : b.config.replace('_', ' ')),
          el('td', { class: t.length ? 'error' : 'muted' }, t.length ? t.join(', ') : 'nothing'));
      }))) : el('p', { class: 'muted' }, 'No box is enrolled yet (hindsight-force enroll).'));
}

async function boxPage(nav, id) {
  const b = await api('GET', `/api/v1/fleet/${encodeURIComponent(id)}`);
  const h = b.health || {};
  const line = errorLine();
  const reason = el('textarea', { id: 'command-reason', maxlength: 2000 });
  const result = el('div', { id: 'command-result', 'aria-live': 'polite' });
  const latest = el('div', { id: 'latest-commands' });
  const listCommands = (commands) => latest.replaceChildren(commands.length
    ? el('ul', { class: 'decisions' }, commands.map((c) => el('li', {}, `${when(c.issued)} · ${OP_WORDS[c.op] || c.op} · ${c.state}${c.error ? ` (${c.error})` : ''}`)))
    : el('p', { class: 'muted' }, 'None yet.'));
  listCommands(b.commands);
  const give = async (op) => {
    line.textContent = '';
    if (words(reason.value) < 3) { failWith(line, { message: 'Say why, in at least three words' }); reason.focus(); return; }
    if (op === 'restart' && !confirm(`Restart box ${b.device}? Recording stops for a few seconds.`)) return;
    try {
      let c = await api('POST', `/api/v1/fleet/${encodeURIComponent(b.device)}/commands`, { op, reason: reason.value.trim() });
      result.replaceChildren(el('p', { class: 'muted' }, `${OP_WORDS[op]}: sent to the receiver, waiting for the box...`));
      // the box answers within seconds when online; a command expires after two minutes
      for (let i = 0; i < 130 && !['done', 'failed', 'expired'].includes(c.state); i++) {
        await new Promise((r) => setTimeout(r, 1000));
        c = await api('GET', `/api/v1/fleet/commands/${encodeURIComponent(c.id)}`);
      }
      result.replaceChildren(
        el('p', { class: c.state === 'done' ? 'state confirmed' : 'error' }, c.state === 'done' ? `${OP_WORDS[op]}: the box answered` : `${OP_WORDS[op]}: ${c.state}${c.error ? ` (${c.error})` : ''}`),
        c.reply ? el('pre', { class: 'reply' }, JSON.stringify(c.reply, null, 2)) : null);
      listCommands((await api('GET', `/api/v1/fleet/${encodeURIComponent(b.device)}`)).commands);
    } catch (err) { failWith(line, err); }
  };
  show(nav, el('h1', {}, `Box ${b.device} · ${b.store}`),
    el('dl', { class: 'facts' },
      el('dt', {}, 'State'), el('dd', {}, `${STATE_WORDS[b.state] || b.state}${b.since ? ` since ${when(b.since)}` : ''}`),
      el('dt', {}, 'Version'), el('dd', {}, b.version || '-'),
      el('dt', {}, 'Last health'), el('dd', {}, ago(b.health_at)),
      el('dt', {}, 'Clock'), el('dd', {}, h.clock ? (h.clock.synced ? `synced (${h.clock.source}, offset ${Math.round(h.clock.offset_ms ?? 0)} ms)` : 'NOT synced') : '-'),
      el('dt', {}, 'Free disk'), el('dd', {}, gb(b.free_disk_bytes)),
      el('dt', {}, 'Evidence waiting'), el('dd', {}, h.outbox ? `${h.outbox.pending} envelope(s)${h.outbox.oldest_age_s ? `, oldest ${h.outbox.oldest_age_s} s` : ''}` : '-'),
      el('dt', {}, 'Incidents'), el('dd', {}, h.incidents ? `${h.incidents.open} open, ${h.incidents.failed} failed` : '-'),
      el('dt', {}, 'Configuration'), el('dd', {}, b.configuration.desired_version ? `version ${b.configuration.desired_version} desired, ${b.configuration.reported ? `${b.configuration.reported.appliedVersion} applied` : 'none reported'} (${b.configuration.state.replace('_', ' ')})` : 'the box\'s own'),
      el('dt', {}, 'Audit log'), el('dd', { class: b.audit?.status === 'alarm' ? 'error' : '' }, b.audit ? (b.audit.status === 'alarm' ? `FAILS ITS CHECK: ${b.audit.alarm}` : `checked: ${b.audit.rows} rows, ${when(b.audit.checked)}`) : 'no head yet')),
    el('h2', {}, 'Cameras'),
    Array.isArray(h.cameras) && h.cameras.length ? el('table', { class: 'fleet' },
      el('thead', {}, el('tr', {}, ['Camera', 'State', 'fps', 'kbit/s', 'Last segment'].map((x) => el('th', { scope: 'col' }, x)))),
      el('tbody', {}, h.cameras.map((c) => el('tr', { class: c.state === 'recording' ? '' : 'attention' },
        el('td', {}, c.id), el('td', {}, c.state), el('td', {}, c.fps ?? '-'), el('td', {}, c.kbps ?? '-'), el('td', {}, c.last_segment_age_s === null || c.last_segment_age_s === undefined ? '-' : `${c.last_segment_age_s} s ago`))))) : el('p', { class: 'muted' }, 'No health document with cameras yet.'),
    el('h2', {}, 'Alarms'),
    b.alarms.length ? el('ul', {}, b.alarms.map((a) => el('li', { class: 'error' }, `${alarmWords(a.kind)}${a.subject ? ` (${a.subject})` : ''}${a.message ? `: ${a.message}` : ''}`))) : el('p', { class: 'muted' }, 'None.'),
    b.state === 'revoked' ? el('p', { class: 'note' }, 'This box is revoked: it is sent nothing.') : el('fieldset', {},
      el('legend', {}, 'Give the box a command'),
      el('label', { for: 'command-reason' }, 'Why (at least three words; recorded in the audit log)'), reason,
      Object.entries(OP_WORDS).map(([op, label]) => el('button', { class: op === 'restart' ? 'btn danger' : 'btn secondary', type: 'button', 'data-op': op, on: { click: () => give(op) } }, label)),
      line, result),
    el('h2', {}, 'Latest commands'),
    latest,
    el('a', { class: 'btn secondary', href: '#fleet' }, 'Back to the fleet'));
}

// --- accounts (admins) ---

async function accountsPage(nav) {
  const list = el('div', { id: 'accounts' });
  const line = errorLine();
  const load = async () => {
    const { accounts } = await api('GET', '/api/v1/accounts');
    list.replaceChildren(...accounts.map((a) => el('div', { class: 'card', 'data-account': a.name },
      el('strong', {}, `${a.name} (${ROLE_WORDS[a.role] || a.role})`), a.disabled ? el('span', { class: 'muted' }, ' · turned off') : null,
      a.role === 'admin' ? null : el('div', {}, el('button', { class: 'btn secondary', type: 'button', on: { click: async () => {
        try { await api('POST', `/api/v1/accounts/${encodeURIComponent(a.id)}`, { disabled: !a.disabled }); await load(); } catch (err) { failWith(line, err); }
      } } }, a.disabled ? `Turn ${a.name} on` : `Turn ${a.name} off`)))));
  };
  const form = el('form', { on: { submit: async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    try {
      await api('POST', '/api/v1/accounts', { name: f.get('name'), role: f.get('role'), password: f.get('password') });
      say('Account added');
      form.reset();
      await load();
    } catch (err) { failWith(line, err); }
  } } },
    el('h2', {}, 'Add an account'),
    el('label', { for: 'account-name' }, 'Name'), el('input', { id: 'account-name', name: 'name', required: true, maxlength: 64, autocomplete: 'off' }),
    el('label', { for: 'account-role' }, 'Role'),
    el('select', { id: 'account-role', name: 'role' }, el('option', { value: 'reviewer' }, 'Reviewer (reviews cases)'), el('option', { value: 'supervisor' }, 'Supervisor (triages incidents, reviews, downloads case reports)')),
    el('label', { for: 'account-password' }, 'Password (at least 12 characters)'), el('input', { id: 'account-password', name: 'password', type: 'password', required: true, minlength: 12, autocomplete: 'new-password' }),
    el('button', { class: 'btn', type: 'submit' }, 'Add account'));
  show(nav, el('h1', {}, 'Accounts'), list, line, form);
  await load();
}

logoutButton.addEventListener('click', async () => {
  try { await api('POST', '/api/v1/logout'); } catch { /* ended anyway */ }
  session = { account: null, csrf: null };
  history.replaceState(null, '', location.pathname);
  await start();
});

start().catch((err) => show(el('h1', {}, 'The console did not answer'), el('p', {}, err.message)));
