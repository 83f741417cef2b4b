#!/usr/bin/env node
// `npm run demo`: the whole product on one machine with an embedded default configuration:
//   - an RTSP test camera showing a shop scene where two people walk past (synthetic, public-domain faces),
//   - a private Mosquitto with TLS and the ACL generated from the protocol, and a force receiver,
//   - the Hindsight daemon, enrolled with that force, recording the camera.
// After 45 s, staff "press the button" for something that happened 25 s ago: the demo logs an incident,
// and you see it cut, analysed, sealed, sent and confirmed by the force, which then lists the crops.
// State lives in .state/demo/ (delete it to start over), or in the folder HINDSIGHT_DEMO_STATE names (a test
// runs the demo in a folder of its own and leaves yours alone). Ctrl-C stops everything; `--seconds N` stops
// after N seconds; `--no-incident` only records.
// `--check` runs the whole chain headless and answers for a machine: it logs the incident, waits for the
// force's receipt, accepts it in triage as a demo officer with a demo crime reference, waits for the
// candidate lists, prints ONE JSON line on stdout ({incident, subjects, delivered, candidates, seconds};
// the narration goes to stderr) and exits 0; or exits 1 naming the step that failed. It never waits past
// CHECK_TIMEOUT_S in all (420 s; HINDSIGHT_DEMO_CHECK_TIMEOUT_S sets another bound).
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => path.join(ROOT, 'daemon', 'dist', p);
const { startCamera } = await import(dist('devkit/camera.js'));
const { startForceKit, enrollBox } = await import(dist('devkit/force.js'));
const { ManagedProcess, stopAllManaged } = await import(dist('devkit/process.js'));
const { makeCctvVideo } = await import(dist('devkit/cctv.js'));
const { walker, secondPublicDomainFace, PUBLIC_DOMAIN_FACE } = await import(dist('devkit/walkers.js'));
const { runCommand } = await import(dist('util/child.js'));

const argv = process.argv.slice(2);
const secondsArg = argv.indexOf('--seconds');
const seconds = secondsArg >= 0 ? Number(argv[secondsArg + 1]) : 0;
const withIncident = !argv.includes('--no-incident');
const check = argv.includes('--check');
const CHECK_TIMEOUT_S = Number(process.env.HINDSIGHT_DEMO_CHECK_TIMEOUT_S) || 420;
const startedAt = Date.now();

const stateRoot = path.resolve(process.env.HINDSIGHT_DEMO_STATE || path.join(ROOT, '.state', 'demo'));
mkdirSync(stateRoot, { recursive: true });
// under --check stdout carries only the result line: the narration (and the force's log) goes to stderr
const out = check ? process.stderr : process.stdout;
const say = (m) => out.write(check ? `demo: ${m}\n` : `\x1b[1mdemo:\x1b[0m ${m}\n`);
/** --check: the step now running, named if it fails or the whole check runs out of time. */
let checkStep = 'start-up';
if (check) {
  setTimeout(() => fail(`no result within ${CHECK_TIMEOUT_S} s`), CHECK_TIMEOUT_S * 1000).unref();
}
let failing = false;
function fail(why) {
  if (failing) return;
  failing = true;
  process.stderr.write(`demo --check failed at step "${checkStep}": ${why}\n`);
  void stopAllAndExit(1);
}
async function stopAllAndExit(code) {
  try {
    await (await import(dist('devkit/process.js'))).stopAllManaged();
  } finally {
    process.exit(code);
  }
}
const rel = (p) => path.relative(process.cwd(), p) || '.';

// 1. The camera: a shop scene where two people walk past between seconds 10 and 55 (made once, then
// reused): Grace Hopper, whom the force's custody gallery holds, and the astronaut Eileen Collins, whom it
// does not (both portraits are public domain and come from Debian packages).
const video = path.join(stateRoot, 'media', 'shop-v2.ts');
if (!existsSync(video)) {
  mkdirSync(path.dirname(video), { recursive: true });
  const walkers = [await walker('visitor', PUBLIC_DOMAIN_FACE, { t: 10, x: 60, y: 180, width: 170 }, { t: 50, x: 1000, y: 120, width: 240 })];
  const second = await secondPublicDomainFace(path.join(stateRoot, 'media'));
  if ('file' in second) walkers.push(await walker('passer-by', second.file, { t: 14, x: 1050, y: 400, width: 190 }, { t: 52, x: 120, y: 360, width: 230 }));
  else say(`only one person walks past: the second public-domain portrait could not be fetched (${second.why})`);
  say(`making the camera footage: a shop scene with ${walkers.length === 2 ? 'two people' : 'a person'} walking past (once, about a minute)`);
  await makeCctvVideo(`${video}.partial.ts`, { seconds: 120, walkers, width: 1280, height: 720, fps: 10, gop: 10, noise: 4, crf: 26, seed: 7 });
  (await import('node:fs')).renameSync(`${video}.partial.ts`, video);
}
const camera = await startCamera({ mode: 'file', file: video });
say(`test camera at ${camera.url}`);
// it answers ONVIF discovery too (on this machine only), so "Find cameras on the network" finds it
const { FakeOnvifCamera } = await import(dist('devkit/onvif-camera.js'));
const onvif = await new FakeOnvifCamera({ rtspUrl: camera.url, name: 'Demo camera' }).start();

// 2. The force: broker (TLS + generated ACL), keys, receiver.
say('starting a private Mosquitto with TLS and the ACL generated from the protocol, and a force installation');
const kit = await startForceKit(stateRoot, { devices: [{ id: 'demo-box', store: 'Demo Store' }] });
say(`broker at ${kit.broker.url}; force installation in ${rel(kit.forceDir)}`);
const receiver = new ManagedProcess(process.execPath, [dist('force/main.js'), 'receive', '--config', kit.forceConfig]);
receiver.child.proc.stdout.on('data', (d) => out.write(`[force] ${d}`));
await receiver.waitForLine(/receiving evidence/, 60_000);
// The reviewers' console and a custody gallery in which the demo's walker is enrolled: an incident logged
// from the staff page lands in the console's triage queue, and accepting it there gives candidates.
if (!check) {
  const consoleConfig = path.join(stateRoot, 'force-console.yaml');
  writeFileSync(consoleConfig, `# written by scripts/demo.mjs: the force's console on this machine, on a free port\nforce: {dir: ${JSON.stringify(kit.forceDir)}}\nconsole: {host: 127.0.0.1, port: 0}\nlog: {level: warn, pretty: false}\n`);
  const forceConsole = new ManagedProcess(process.execPath, [dist('force/main.js'), 'console', '--config', consoleConfig]);
  const at = await forceConsole.waitForLine(/console at https:\/\/[^/]+:\d+\//, 60_000);
  const url = `https://localhost:${/console at https:\/\/[^/]+:(\d+)\//.exec(at[0])[1]}/`;
  await new Promise((r) => setTimeout(r, 300));
  const code = forceConsole.lines.map((l) => /setup code (\d{4}-\d{4}-\d{4})/.exec(l)?.[1]).find((c) => c);
  say(`force console (triage, candidate review, the fleet): ${url}`);
  say(code ? `first visit: make the force's admin account with the setup code ${code}; the admin adds officers (role supervisor: they triage) and reviewers` : 'log in with the console accounts made earlier');
  const custody = writeCustody();
  const imported = await runCommand(process.execPath, [dist('force/main.js'), 'gallery', 'import', '--folder', custody, '--manifest', path.join(custody, 'custody.csv'), '--config', kit.forceConfig], { timeoutMs: 120_000 });
  say(imported.code === 0 ? 'custody gallery: Grace Hopper, one of the two people walking past, is enrolled as CUSTODY-0001 (the other is not)' : `could not import the custody gallery: ${imported.stderr.toString().trim()}`);
}

// 3. The box.
const configFile = path.join(stateRoot, 'config.yaml');
writeFileSync(
  configFile,
  [
    '# written by scripts/demo.mjs',
    'version: 1',
    'device: {id: demo-box, store: "Demo Store"}',
    `paths: {state_dir: ${JSON.stringify(path.join(stateRoot, 'box'))}}`,
    'log: {level: info, pretty: true}',
    '# the test camera runs on this machine, so loopback is a camera network here',
    `cameras: {networks: [127.0.0.0/8], discovery_multicast: false, discovery_targets: ["127.0.0.1:${onvif.udpPort}"]}`,
    'recorder: {segment_seconds: 2}',
    'incidents: {wait_for_footage_s: 15}',
    '# the web app on this machine only, on a free port (the log and this script say which)',
    'web: {enabled: true, host: 127.0.0.1, port: 0}',
    '',
  ].join('\n'),
);
const boxState = path.join(stateRoot, 'box');
// the demo's broker gets a new port, certificate and box password at every start: the box installs the
// new bundle each time (its device key and everything else it holds stay)
const enrolledBefore = existsSync(path.join(boxState, 'uplink', 'enrollment.json'));
enrollBox(configFile, kit.bundle('demo-box'), kit.forceDir);
say(enrolledBefore ? "the demo box took this start's enrollment bundle (the broker's new address and password)" : 'the demo box is enrolled with the force (device key created and registered)');
const hindsight = (...args) => runCommand(process.execPath, [dist('cli/main.js'), ...args, '--config', configFile], { timeoutMs: 120_000 });
const known = JSON.parse((await hindsight('camera', 'list', '--json')).stdout.toString() || '[]').some((c) => c.id === 'till2');
const registered = known
  ? await hindsight('camera', 'update', 'till2', '--url', camera.url)
  : await hindsight('camera', 'add', '--id', 'till2', '--name', 'Till 2', '--url', camera.url, '--zone', 'tills');
if (registered.code !== 0) throw new Error(`could not register the demo camera: ${registered.stderr}`);
say(`starting the daemon with ${rel(configFile)}`);
const daemon = new ManagedProcess(process.execPath, [dist('cli/main.js'), 'run', '--config', configFile]);
daemon.child.proc.stdout.on('data', (d) => out.write(d));
daemon.child.proc.stderr.on('data', (d) => process.stderr.write(d));
checkStep = 'the daemon starts';
await daemon.waitForLine(/hindsight running/, 60_000);
const webLine = daemon.lines.find((l) => /web app at https:\/\/[^/]+:\d+\//.test(l));
if (webLine) {
  const url = `https://localhost:${/web app at https:\/\/[^/]+:(\d+)\//.exec(webLine)[1]}/`;
  const code = daemon.lines.map((l) => /enter the setup code (\d{4}-\d{4}-\d{4})/.exec(l)?.[1]).find((c) => c);
  say(`web app: ${url} (the browser warns once about the box's own certificate; its fingerprint is in the log above)`);
  say(code ? `first visit: make the manager account with the setup code ${code}` : `log in with the manager account made earlier (delete ${rel(stateRoot)} to start over)`);
  // open it where there is a screen to show it on
  if (process.env.DISPLAY || process.env.WAYLAND_DISPLAY) runCommand('xdg-open', [url], { timeoutMs: 10_000 }).catch(() => undefined);
}
checkStep = 'camera till2 records';
await daemon.waitForLine(/camera till2: recording/, 60_000);
say('recording camera till2. Press Ctrl-C to stop.');
const cli = `node daemon/dist/cli/main.js`;
say(`try: ${cli} buffer status --config ${rel(configFile)}`);

let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  say('stopping');
  await daemon.stop(5000);
  await onvif.stop();
  await stopAllManaged();
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
void daemon.child.exited.then((e) => {
  if (check && !stopping && !failing) return fail(`the daemon exited (${e.code ?? e.signal})`);
  if (!stopping) {
    say(`the daemon exited (${e.code ?? e.signal}); see the log above`);
    void stop(1);
  }
});
if (seconds > 0) setTimeout(() => void stop(0), seconds * 1000);

// 4. The incident: "someone took something at till 2, 25 seconds ago".
if (check) {
  await runCheck().catch((err) => fail(err instanceof Error ? err.message : String(err)));
} else if (withIncident) {
  say('in 45 s a member of staff will log an incident at till 2 (it happened 25 s before)');
  await new Promise((r) => setTimeout(r, 45_000));
  if (stopping) await new Promise(() => undefined);
  const incident = await logIncident();
  if (incident) {
    say(`incident ${incident.id} logged: window locked; cutting, finding faces, sealing and sending to the force...`);
    const { state: last } = await followIncident(incident.id);
    const arrived = await runCommand(process.execPath, [dist('force/main.js'), 'incidents', '--verify', '--config', kit.forceConfig], { timeoutMs: 60_000 });
    process.stdout.write(arrived.stdout.toString());
    if (last === 'delivered') await forceWorkbench(incident.id);
    say(`the force holds the crops under ${rel(path.join(kit.forceDir, 'store'))}; once accepted, link incidents with: node daemon/dist/force/main.js search --reason "why this search is necessary" --image PHOTO.jpg --config ${rel(kit.forceConfig)}`);
    say(`the box's audit log: ${cli} audit export --config ${rel(configFile)} | tail`);
  }
}

/** Staff log the incident (the CLI, as the tablet's button does through the daemon); its id, or undefined with why said. */
async function logIncident() {
  const logged = await hindsight('incident', 'log', '--at', '25 seconds ago', '--before', '15', '--after', '10', '--zone', 'tills', '--reason', 'theft', '--justification', 'customer took two bottles of gin at till 2 without paying', '--by', 'staff-anna', '--json');
  if (logged.code !== 0) {
    say(`could not log the incident: ${logged.stderr}`);
    return undefined;
  }
  return JSON.parse(logged.stdout.toString());
}

/** Follow the incident until it is delivered (the force's receipt) or stops; its last state and failure. */
async function followIncident(id) {
  let last = '';
  let failure = '';
  for (;;) {
    const shown = await hindsight('incident', 'show', id, '--json');
    const view = JSON.parse(shown.stdout.toString() || '{}');
    if (view.state && view.state !== last) say(`incident ${id}: ${view.state}${view.failure ? ` (${view.failure})` : ''}`);
    last = view.state ?? last;
    failure = view.failure ?? failure;
    if (['delivered', 'closed', 'failed', 'cancelled'].includes(last) || stopping) return { state: last, failure };
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** --check: the chain from the button to the reviewers' candidates, headless, each step named. */
async function runCheck() {
  checkStep = 'footage of the people walking past';
  say('waiting 45 s for footage of the people walking past');
  await new Promise((r) => setTimeout(r, 45_000));
  checkStep = 'log the incident';
  const incident = await logIncident();
  if (!incident) throw new Error('the incident was not logged (see above)');
  checkStep = "the force's receipt";
  const end = await followIncident(incident.id);
  if (end.state !== 'delivered') throw new Error(`incident ${incident.id} ended ${end.state}${end.failure ? `: ${end.failure}` : ''}, not delivered`);
  const force = (...args) => runCommand(process.execPath, [dist('force/main.js'), ...args, '--config', kit.forceConfig], { timeoutMs: 120_000 });
  const must = async (what, args) => {
    checkStep = what;
    const r = await force(...args);
    if (r.code !== 0) throw new Error(`hindsight-force ${args.join(' ')} exited ${r.code}: ${r.stderr.toString().trim().slice(-500)}`);
    return r.stdout.toString();
  };
  const custody = writeCustody();
  await must('the custody gallery', ['gallery', 'import', '--folder', custody, '--manifest', path.join(custody, 'custody.csv')]);
  await must('triage by a demo officer', ['triage', 'accept', incident.id, '--crime-ref', 'DEMO/2026/0001', '--necessity', 'theft of two bottles of gin, suspect not known to staff', '--all-subjects']);
  const { lists } = JSON.parse(await must('the candidate lists', ['candidates', incident.id, '--json']));
  if (!Array.isArray(lists) || lists.length === 0) throw new Error('the accepted incident has no subject with a candidate list');
  process.stdout.write(JSON.stringify({ incident: incident.id, subjects: lists.length, delivered: true, candidates: lists, seconds: Math.round((Date.now() - startedAt) / 1000) }) + '\n');
  checkStep = 'stopping';
  stopping = true;
  await daemon.stop(5000);
  await onvif.stop();
  await stopAllAndExit(0);
}

/** The demo's custody gallery: one person, the public-domain face the walker wears (CUSTODY-0001). */
function writeCustody() {
  const custody = path.join(stateRoot, 'custody');
  mkdirSync(custody, { recursive: true });
  copyFileSync(PUBLIC_DOMAIN_FACE, path.join(custody, 'custody-0001.jpg'));
  writeFileSync(path.join(custody, 'custody.csv'), 'person_ref,photo_file,capture_date,source\nCUSTODY-0001,custody-0001.jpg,2025-11-02,demo custody suite\n');
  return custody;
}

/**
 * 5. At the force: a custody gallery of one (the demo's public-domain face, CUSTODY-0001), the incident
 * waiting in triage (nothing searched), then an officer accepts it with a crime reference, which searches
 * its subjects against the gallery and gives each a candidate list for reviewers.
 */
async function forceWorkbench(incidentId) {
  const force = (...args) => runCommand(process.execPath, [dist('force/main.js'), ...args, '--config', kit.forceConfig], { timeoutMs: 120_000 });
  const steps = [
    ['the fleet: every box online or offline, with its latest health', ['fleet', 'list']],
    ['a signed command to the box, and its answer', ['fleet', 'cmd', 'all', 'ping']],
    ['the custody gallery', ['gallery', 'list']],
    ['waiting for an officer (nothing searched yet)', ['triage', 'list']],
    ['an officer accepts it', ['triage', 'accept', incidentId, '--crime-ref', 'DEMO/2026/0001', '--necessity', 'theft of two bottles of gin, suspect not known to staff', '--all-subjects']],
  ];
  let subject = 'SUBJECT';
  for (const [what, args] of steps) {
    say(`force: ${what}: hindsight-force ${args.join(' ')}`);
    const r = await force(...args);
    process.stdout.write(r.stdout.toString() + (r.code ? r.stderr : ''));
    subject = /^subject (\S+):/m.exec(r.stdout.toString())?.[1] ?? subject;
  }
  say(`reviewers decide: node daemon/dist/force/main.js review decide ${incidentId} --subject ${subject} --decision possible_match --person CUSTODY-0001 --reason "..." --config ${rel(kit.forceConfig)} (a second, different reviewer must agree)`);
}
