// Fleet: the force tracking many boxes' presence and health, and one command to all of them.
//  - A force installation with its private TLS Mosquitto (generated ACL and password file) and N boxes
//    enrolled (default 1000), and the force receiver as its own process (`hindsight-force receive`).
//  - N simulated boxes in this process: one MQTT 5 client each over TLS with its own enrollment's
//    username/password (client id = username), an `offline` will on its retained state, subscribed to its
//    own `cmd`; each publishes its retained `state` (online) and `health` at connect, then a health
//    document (4-8 cameras, valid against HealthPayload) every INTERVAL s, phases spread at random. A
//    command is answered `{cmd_id, status: 'ok', data: {pong: true, ts}}` on the box's `cmd/res` with the
//    request's correlation data. The simulated boxes do NOT verify the command's signature (a real box
//    does, test/ covers that): their CPU is not the force's anyway.
//  - The receiver's CPU and RSS come from /proc/<its pid> only (the simulator shares the machine, not the
//    figure): at the compressed rate (health every INTERVAL s instead of 60 s), scaled to the real rate, and
//    measured at the real rate too. Then `hindsight-force fleet list --json` as the CLI process (wall time
//    per run, 1000 boxes in the table), `fleet cmd all ping` as the CLI (start -> every reply recorded), and
//    the check that `fleet list` shows every box online with health.
// Only loopback: the kit's broker listens on a free port of 127.0.0.1 (never the machine's Mosquitto).
// Settings (environment): HINDSIGHT_BENCH_FLEET_BOXES (1000), _INTERVAL_S (6), _WINDOW_S (60),
// _REAL_WINDOW_S (120; 0 skips the real-rate window), _LIST_RUNS (20), _SCRAPES (30: GET /metrics of the console,
// with the scrape token). HINDSIGHT_BENCH_KEEP=1 keeps the folder.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pct, procStat, round, stats, treePids } from './_measure.mjs';

const env = process.env;
const BOXES = Number(env.HINDSIGHT_BENCH_FLEET_BOXES ?? 1000);
const INTERVAL_S = Number(env.HINDSIGHT_BENCH_FLEET_INTERVAL_S ?? 6);
const WINDOW_S = Number(env.HINDSIGHT_BENCH_FLEET_WINDOW_S ?? 60);
const REAL_WINDOW_S = Number(env.HINDSIGHT_BENCH_FLEET_REAL_WINDOW_S ?? 120);
const LIST_RUNS = Number(env.HINDSIGHT_BENCH_FLEET_LIST_RUNS ?? 20);
const SCRAPES = Number(env.HINDSIGHT_BENCH_FLEET_SCRAPES ?? 30);
const REAL_INTERVAL_S = 60;
const CONNECT_BATCH = 50;
const KIT_ENROLL_SAMPLE = Math.min(20, BOXES);
const TARGET_CPU_PCT = 10;
const TARGET_LIST_P95_MS = 200;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mib = (b) => round(b / 2 ** 20, 1);

/** Peak RSS (VmHWM) and current RSS of a process, bytes. */
function memOf(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(s.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm'))?.[1] ?? NaN) * 1024;
    return { peak: kb('VmHWM'), now: kb('VmRSS') };
  } catch {
    return { peak: null, now: null };
  }
}

/** Bytes written (all writes incl. sockets; to storage) and write calls of a process, from /proc/<pid>/io. */
function ioOf(pid) {
  try {
    const t = readFileSync(`/proc/${pid}/io`, 'utf8');
    const v = (k) => Number(t.match(new RegExp(`^${k}: (\\d+)`, 'm'))?.[1] ?? NaN);
    return { wchar: v('wchar'), writeBytes: v('write_bytes'), syscw: v('syscw') };
  } catch {
    return { wchar: NaN, writeBytes: NaN, syscw: NaN };
  }
}

function openFilesLimit() {
  const m = readFileSync('/proc/self/limits', 'utf8').match(/^Max open files\s+(\d+|unlimited)/m);
  return m ? (m[1] === 'unlimited' ? Infinity : Number(m[1])) : Infinity;
}

/** Run a CLI command (node + args) to completion: wall ms, exit code, output. */
function runCli(args, timeoutMs = 300_000, childEnv = process.env) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const startedUtc = Date.now();
    execFile(process.execPath, args, { maxBuffer: 256 * 2 ** 20, timeout: timeoutMs, env: childEnv }, (err, stdout, stderr) => {
      resolve({ ms: performance.now() - t0, startedUtc, endedUtc: Date.now(), code: err ? (err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A realistic health document of box i (the fields health.ts and the uplink write), 4-8 cameras. */
function healthMaker(i, startedAt, modelHashes) {
  const cameras = 4 + (i % 5);
  const rnd = (a, b) => a + Math.random() * (b - a);
  const total = 8 * 2 ** 30;
  const free = Math.round(rnd(200, 900) * 1e9);
  return () => {
    const cams = [];
    let bytesPerHour = 0;
    for (let k = 0; k < cameras; k++) {
      const kbps = Math.round(rnd(1500, 4200));
      bytesPerHour += (kbps * 1000) / 8 * 3600;
      const down = Math.random() < 0.01;
      cams.push({ id: `cam${k + 1}`, state: down ? 'reconnecting' : 'recording', fps: down ? 0 : round(rnd(11.5, 12.5), 1), kbps: down ? null : kbps, last_segment_age_s: down ? Math.round(rnd(30, 300)) : Math.round(rnd(0, 4)), gaps_24h: Math.random() < 0.1 ? 1 : 0, hours_buffered: round(rnd(60, 72), 1) });
    }
    return {
      cpu: { load_pct: round(rnd(8, 65), 1), temp_c: Math.round(rnd(45, 72)) },
      mem: { used_bytes: Math.round(rnd(1.5, 4.5) * 2 ** 30), total_bytes: total },
      disk: { buffer_bytes: Math.round(rnd(300, 900) * 1e9), free_bytes: free, hours_of_buffer_left: round(free / bytesPerHour, 1) },
      cameras: cams,
      incidents: { open: Math.random() < 0.05 ? 1 : 0, failed: 0 },
      models: modelHashes.map((m) => ({ name: m.name, sha256: m.sha256, state: 'ok' })),
      alarms: [],
      ts: Date.now(),
      uptime_s: Math.round((Date.now() - startedAt) / 1000),
      version: '0.1.0',
      clock: { synced: true, offset_ms: round(rnd(-3, 3), 1), source: 'chrony' },
      outbox: { pending: 0, bytes: 0, oldest_age_s: null },
    };
  };
}

export async function run({ root, log }) {
  const dist = (p) => import(path.join(root, 'daemon/dist', p));
  const { default: mqtt } = await import('mqtt');
  const Database = createRequire(path.join(root, 'package.json'))('better-sqlite3');
  const { startForceKit } = await dist('devkit/force.js');
  const { ManagedProcess } = await dist('devkit/process.js');
  const { openForceDb } = await dist('force/database.js');
  const { enrollDevice } = await dist('force/enroll.js');
  const { forcePaths } = await dist('force/paths.js');
  const { fleetLines } = await dist('force/fleet-view.js');
  const { checkPayload, HealthPayload, StatePayload, CommandPayload } = await dist('protocol/schemas.js');
  const { systemClock } = await dist('util/clock.js');
  // `hindsight-force` itself: `hindsight force ...` runs it as a child process (a second node start-up, and
  // the receiver's pid would be the wrapper's)
  const forceCli = path.join(root, 'daemon/dist/force/main.js');
  const oldCli = path.join(root, 'daemon/dist/cli/main.js');

  // one TLS socket per box here and in the broker (it inherits this limit), plus the receiver's and spare
  const fdLimit = openFilesLimit();
  if (fdLimit < BOXES + 200) throw new Error(`open files limit ${fdLimit} is below ${BOXES + 200}: raise it (ulimit -n) or set HINDSIGHT_BENCH_FLEET_BOXES lower`);

  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-bench-fleet-'));
  const ids = Array.from({ length: BOXES }, (_, i) => `box-${String(i + 1).padStart(4, '0')}`);
  const boxes = [];
  let receiver;
  let kit;
  let roDb;
  let ticker;
  const result = {};
  try {
    // --- force, broker, enrollments
    kit = await startForceKit(dir, {});
    const prefix = kit.prefix;
    log(`force kit: broker ${kit.broker.url} (pid ${kit.broker.pid}), open files limit ${fdLimit}`);
    const credentials = new Map();
    let t0 = performance.now();
    // a few through kit.enroll (force DB opened, bundle written, broker reloaded per box) for its per-box cost
    for (const id of ids.slice(0, KIT_ENROLL_SAMPLE)) {
      const b = JSON.parse(readFileSync(kit.enroll(id, `Store ${id.slice(4)}`), 'utf8'));
      credentials.set(id, { username: b.mqtt.username, password: b.mqtt.password, ca: b.mqtt.ca_pem });
    }
    const kitEnrollMs = (performance.now() - t0) / KIT_ENROLL_SAMPLE;
    // the rest with the same module (enrollDevice: registry row, audit row, password line, bundle) in one
    // database session, and one broker reload at the end instead of one per box
    t0 = performance.now();
    const caPem = readFileSync(kit.broker.ca, 'utf8');
    const fdb = openForceDb(kit.forceDir);
    try {
      for (const id of ids.slice(KIT_ENROLL_SAMPLE)) {
        const { bundle: b } = enrollDevice({ dir: kit.forceDir, deviceId: id, store: `Store ${id.slice(4)}`, brokerUrl: kit.broker.url, caPem, prefix, now: Date.now(), db: fdb.db, audit: fdb.audit });
        credentials.set(id, { username: b.mqtt.username, password: b.mqtt.password, ca: b.mqtt.ca_pem });
      }
    } finally {
      fdb.close();
    }
    kit.broker.reload();
    await sleep(1000);
    const batchEnrollMs = BOXES > KIT_ENROLL_SAMPLE ? (performance.now() - t0 - 1000) / (BOXES - KIT_ENROLL_SAMPLE) : null;
    result.enrollment = { kit_enroll_ms_per_box: round(kitEnrollMs, 1), batch_enroll_ms_per_box: round(batchEnrollMs, 2), kit_enrolled: KIT_ENROLL_SAMPLE, batch_enrolled: BOXES - KIT_ENROLL_SAMPLE, broker_reloads: KIT_ENROLL_SAMPLE + 1 };
    log(`enrolled ${BOXES} boxes: kit.enroll ${round(kitEnrollMs, 1)} ms/box (first ${KIT_ENROLL_SAMPLE}), enrollDevice in one session ${round(batchEnrollMs, 2)} ms/box + one broker reload`);

    // --- the documents the boxes send, checked against the protocol's schemas before anything starts
    const modelHashes = ['detector', 'landmarks', 'embedder'].map((name) => ({ name, sha256: randomBytes(32).toString('hex') }));
    const startedAt = Date.now() - 3 * 86_400_000;
    const makers = ids.map((_, i) => healthMaker(i, startedAt, modelHashes));
    const sizes = makers.map((m) => {
      const doc = m();
      checkPayload(HealthPayload, doc);
      return Buffer.byteLength(JSON.stringify(doc));
    });
    const bootId = randomBytes(8).toString('hex');
    const stateDoc = (s) => JSON.stringify(checkPayload(StatePayload, { state: s, version: '0.1.0', boot_id: bootId, bd_seq: 1 }));
    result.health_document = { bytes: stats(sizes, 0), cameras_per_box: '4-8', schema: 'HealthPayload (checked for every box before the run)' };
    log(`health documents valid against HealthPayload: ${pct(sizes, 0.5)} bytes median, ${Math.max(...sizes)} max`);

    // --- the force receiver (its own process: the one measured)
    receiver = new ManagedProcess(process.execPath, [forceCli, 'receive', '--config', kit.forceConfig]);
    await receiver.waitForLine(/receiving evidence/, 30_000);
    const rpid = receiver.pid;
    const persistenceBytes = () => {
      try {
        return statSync(path.join(dir, 'broker', 'data', 'mosquitto.db')).size;
      } catch {
        return NaN;
      }
    };
    const bpid = kit.broker.pid;
    if (treePids(rpid).length) log(`note: the receiver has child processes ${treePids(rpid).join(',')} (not counted)`);
    roDb = new Database(forcePaths(kit.forceDir).db, { readonly: true, fileMustExist: true });
    roDb.pragma('busy_timeout = 5000');
    const onlineWithHealth = () => roDb.prepare("SELECT count(*) AS n FROM fleet WHERE state = 'online' AND health IS NOT NULL").get().n;

    // --- the simulated boxes
    const ackMs = [];
    const sim = { healthSent: 0, healthAcked: 0, healthErrors: 0, commands: 0, badCommands: 0, replies: 0, replyErrors: 0, connects: 0, lastReplyUtc: 0 };
    const healthOf = (i) => {
      const b = boxes[i];
      if (!b.client.connected) return Promise.resolve();
      sim.healthSent++;
      const p0 = performance.now();
      return b.client.publishAsync(`${b.base}/health`, JSON.stringify(makers[i]()), { qos: 1, retain: true }).then(
        () => {
          sim.healthAcked++;
          ackMs.push(performance.now() - p0);
        },
        () => void sim.healthErrors++,
      );
    };
    const connectBox = (i) => {
      const id = ids[i];
      const c = credentials.get(id);
      const base = `${prefix}/${id}`;
      const client = mqtt.connect(kit.broker.url, {
        protocolVersion: 5,
        clientId: c.username,
        username: c.username,
        password: c.password,
        ca: c.ca,
        rejectUnauthorized: true,
        clean: false,
        keepalive: 30,
        reconnectPeriod: 2000,
        connectTimeout: 30_000,
        resubscribe: false,
        properties: { sessionExpiryInterval: 7 * 86_400 },
        will: { topic: `${base}/state`, payload: Buffer.from(stateDoc('offline')), qos: 1, retain: true },
      });
      const box = { id, base, client, ready: undefined };
      boxes[i] = box;
      client.on('error', () => undefined);
      client.on('message', (topic, payload, packet) => {
        if (topic !== `${base}/cmd`) return;
        sim.commands++;
        let cmdId;
        try {
          // the signature is not checked here (a real box checks it; this is the force's benchmark)
          cmdId = checkPayload(CommandPayload, JSON.parse(payload.toString())).cmd.cmd_id;
        } catch {
          sim.badCommands++;
          return;
        }
        const reply = JSON.stringify({ cmd_id: cmdId, status: 'ok', data: { pong: true, ts: Date.now() } });
        const correlationData = packet.properties?.correlationData;
        client.publishAsync(`${base}/cmd/res`, reply, { qos: 1, properties: correlationData ? { correlationData } : {} }).then(
          () => {
            sim.replies++;
            sim.lastReplyUtc = Date.now();
          },
          () => void sim.replyErrors++,
        );
      });
      box.ready = new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`box ${id} did not connect within 60 s`)), 60_000);
        // what the daemon does at every (re)connect: subscribe, then retained state and health
        client.on('connect', async () => {
          sim.connects++;
          try {
            await client.subscribeAsync(`${base}/cmd`, { qos: 1 });
            await client.publishAsync(`${base}/state`, stateDoc('online'), { qos: 1, retain: true });
            await healthOf(i);
            clearTimeout(timer);
            resolve();
          } catch (err) {
            reject(err);
          }
        });
      });
      return box.ready;
    };

    const cpu0 = procStat(rpid).cpuS;
    const bcpu0 = procStat(bpid).cpuS;
    t0 = performance.now();
    for (let i = 0; i < BOXES; i += CONNECT_BATCH) {
      await Promise.all(ids.slice(i, i + CONNECT_BATCH).map((_, k) => connectBox(i + k)));
      if ((i / CONNECT_BATCH) % 4 === 3) log(`${Math.min(BOXES, i + CONNECT_BATCH)} boxes connected`);
    }
    const connectS = (performance.now() - t0) / 1000;
    let seen = 0;
    while ((seen = onlineWithHealth()) < BOXES && performance.now() - t0 < connectS * 1000 + 120_000) await sleep(250);
    const recordedS = (performance.now() - t0) / 1000;
    result.connect = {
      batch: CONNECT_BATCH,
      all_connected_s: round(connectS, 1),
      all_recorded_online_with_health_s: round(recordedS, 1),
      recorded: seen,
      receiver_cpu_s: round(procStat(rpid).cpuS - cpu0, 1),
      broker_cpu_s: round(procStat(bpid).cpuS - bcpu0, 1),
      reconnects: sim.connects - BOXES,
    };
    log(`${BOXES} boxes connected in ${round(connectS, 1)} s; ${seen} online with health in the force DB after ${round(recordedS, 1)} s`);
    if (seen < BOXES) throw new Error(`only ${seen} of ${BOXES} boxes are online with health in the force database`);

    // --- periodic health, phases spread at random (as boxes started at different times)
    let intervalS = INTERVAL_S;
    const due = new Float64Array(BOXES);
    const rephase = (s) => {
      intervalS = s;
      const now = performance.now();
      for (let i = 0; i < BOXES; i++) due[i] = now + Math.random() * s * 1000;
    };
    rephase(INTERVAL_S);
    ticker = setInterval(() => {
      const now = performance.now();
      for (let i = 0; i < BOXES; i++) {
        if (due[i] <= now) {
          due[i] += intervalS * 1000;
          void healthOf(i);
        }
      }
    }, 50);

    /** Receiver (and broker, and this simulator) over `seconds`: CPU % of one core, RSS, messages. */
    const measure = async (seconds) => {
      const r0 = procStat(rpid);
      const b0 = procStat(bpid);
      const s0 = process.cpuUsage();
      const h0 = sim.healthAcked;
      const bio0 = ioOf(bpid);
      const rio0 = ioOf(rpid);
      ackMs.length = 0;
      const w0 = performance.now();
      const rss = [];
      const brss = [];
      while (performance.now() - w0 < seconds * 1000) {
        await sleep(1000);
        rss.push(procStat(rpid).rssBytes);
        brss.push(procStat(bpid).rssBytes);
      }
      const wall = (performance.now() - w0) / 1000;
      const r1 = procStat(rpid);
      const b1 = procStat(bpid);
      const s1 = process.cpuUsage(s0);
      const msgs = sim.healthAcked - h0;
      const bio1 = ioOf(bpid);
      const rio1 = ioOf(rpid);
      return {
        wall_s: round(wall, 1),
        health_messages: msgs,
        health_msgs_per_s: round(msgs / wall, 1),
        receiver_cpu_pct_of_core: round(((r1.cpuS - r0.cpuS) / wall) * 100, 2),
        receiver_cpu_us_per_health_msg: msgs ? round(((r1.cpuS - r0.cpuS) / msgs) * 1e6, 0) : null,
        receiver_rss_mib_mean: mib(rss.reduce((a, b) => a + b, 0) / rss.length),
        receiver_rss_mib_max: mib(Math.max(...rss)),
        broker_cpu_pct_of_core: round(((b1.cpuS - b0.cpuS) / wall) * 100, 2),
        broker_rss_mib_max: mib(Math.max(...brss)),
        // QoS 1 health publish -> the broker's PUBACK, as a box sees it
        health_puback_ms: stats(ackMs, 1),
        broker_written_mib_per_s: round((bio1.wchar - bio0.wchar) / wall / 2 ** 20, 2),
        broker_to_storage_mib_per_s: round((bio1.writeBytes - bio0.writeBytes) / wall / 2 ** 20, 2),
        broker_write_calls_per_s: round((bio1.syscw - bio0.syscw) / wall, 0),
        broker_persistence_file_mib: mib(persistenceBytes()),
        receiver_to_storage_mib_per_s: round((rio1.writeBytes - rio0.writeBytes) / wall / 2 ** 20, 2),
        simulator_cpu_pct_of_core: round(((s1.user + s1.system) / 1e6 / wall) * 100, 1),
        load_avg: os.loadavg().map((x) => round(x, 2)),
      };
    };
    /** What the force recorded: delay from a document's `ts` to its row, and the oldest row. */
    const intake = () => {
      const rows = roDb.prepare("SELECT health_utc - json_extract(health, '$.ts') AS lag, ? - health_utc AS age FROM fleet WHERE health IS NOT NULL").all(Date.now());
      return { boxes: rows.length, ts_to_recorded_ms: stats(rows.map((r) => r.lag), 0), oldest_health_age_s: round(Math.max(...rows.map((r) => r.age)) / 1000, 1) };
    };

    // --- compressed rate
    log(`health every ${INTERVAL_S} s from ${BOXES} boxes (${round(BOXES / INTERVAL_S, 0)} msg/s, ${REAL_INTERVAL_S / INTERVAL_S}x the real rate): warming up ${2 * INTERVAL_S} s, measuring ${WINDOW_S} s`);
    await sleep(2 * INTERVAL_S * 1000);
    const compressed = await measure(WINDOW_S);
    compressed.intake = intake();
    result.compressed_rate = { health_interval_s: INTERVAL_S, ...compressed };
    const scaled = round(compressed.receiver_cpu_pct_of_core * (INTERVAL_S / REAL_INTERVAL_S), 2);
    log(`compressed: receiver ${compressed.receiver_cpu_pct_of_core} % of a core (${compressed.receiver_cpu_us_per_health_msg} us/msg) -> ${scaled} % scaled to ${REAL_INTERVAL_S} s; RSS ${compressed.receiver_rss_mib_max} MiB; broker ${compressed.broker_cpu_pct_of_core} %, ${compressed.broker_rss_mib_max} MiB; ts->recorded p95 ${compressed.intake.ts_to_recorded_ms.p95} ms`);

    // --- the real rate, measured directly
    rephase(REAL_INTERVAL_S);
    if (REAL_WINDOW_S > 0) {
      log(`health every ${REAL_INTERVAL_S} s (the real rate): measuring ${REAL_WINDOW_S} s`);
      const real = await measure(REAL_WINDOW_S);
      real.intake = intake();
      result.real_rate = { health_interval_s: REAL_INTERVAL_S, ...real };
      log(`real rate: receiver ${real.receiver_cpu_pct_of_core} % of a core, RSS ${real.receiver_rss_mib_max} MiB; broker ${real.broker_cpu_pct_of_core} %`);
    }

    // --- fleet list, as an admin runs it (health continues at the real rate)
    const listArgs = [forceCli, 'fleet', 'list', '--json', '--config', kit.forceConfig];
    const helpRuns = [];
    for (let i = 0; i < 5; i++) helpRuns.push((await runCli([forceCli, 'fleet', 'list', '--help'])).ms);
    const oldSpellingRuns = [];
    for (let i = 0; i < 3; i++) oldSpellingRuns.push((await runCli([oldCli, 'force', 'fleet', 'list', '--json', '--config', kit.forceConfig])).ms);
    const listRuns = [];
    let lastList;
    for (let i = 0; i < LIST_RUNS; i++) {
      const r = await runCli(listArgs);
      if (r.code !== 0) throw new Error(`fleet list failed (${r.code}): ${r.stderr.slice(-2000)}`);
      listRuns.push(r.ms);
      lastList = r;
    }
    // the same work in this process (read-only handle), by the code the CLI and the console run: the lines, and
    // the CLI's JSON (health documents passed through as stored)
    const inProc = [];
    for (let i = 0; i < 5; i++) {
      const q0 = performance.now();
      const lines = fleetLines(roDb);
      const q1 = performance.now();
      const json = lines.map(({ healthJson, ...l }) => `${JSON.stringify(l).slice(0, -1)},"health":${healthJson ?? 'null'}}`).join(',\n');
      inProc.push({ lines: q1 - q0, json: performance.now() - q1, bytes: json.length });
    }
    // A Node start-up reads NODE_EXTRA_CA_CERTS when it is set (a machine-wide setting of some hosts, not of
    // Hindsight): the same runs without it, side by side, so the figure of an admin's usual machine is known too
    const withoutExtraCa = [];
    if (env.NODE_EXTRA_CA_CERTS) {
      const plain = { ...env };
      delete plain.NODE_EXTRA_CA_CERTS;
      for (let i = 0; i < LIST_RUNS; i++) withoutExtraCa.push((await runCli(listArgs, 300_000, plain)).ms);
    }
    result.fleet_list = {
      runs: LIST_RUNS,
      boxes_in_output: JSON.parse(lastList.stdout).length,
      output_bytes: lastList.stdout.length,
      cli_wall_ms: stats(listRuns),
      cli_startup_ms_help_only: stats(helpRuns),
      old_spelling_hindsight_force_ms: stats(oldSpellingRuns),
      in_process_ms: { fleet_lines: round(pct(inProc.map((x) => x.lines), 0.5), 1), json: round(pct(inProc.map((x) => x.json), 0.5), 1) },
      ...(withoutExtraCa.length ? { cli_wall_ms_without_node_extra_ca_certs: stats(withoutExtraCa) } : {}),
      load_avg: os.loadavg().map((x) => round(x, 2)),
    };
    log(`fleet list --json (${BOXES} boxes, ${mib(lastList.stdout.length)} MiB): p50 ${result.fleet_list.cli_wall_ms.p50} ms, p95 ${result.fleet_list.cli_wall_ms.p95} ms, max ${result.fleet_list.cli_wall_ms.max} ms (CLI start-up alone, --help: p50 ${result.fleet_list.cli_startup_ms_help_only.p50} ms; in process: lines ${result.fleet_list.in_process_ms.fleet_lines} ms + JSON ${result.fleet_list.in_process_ms.json} ms)${withoutExtraCa.length ? `; without NODE_EXTRA_CA_CERTS: p50 ${result.fleet_list.cli_wall_ms_without_node_extra_ca_certs.p50} ms, p95 ${result.fleet_list.cli_wall_ms_without_node_extra_ca_certs.p95} ms` : ''}`);

    // --- the console's /metrics as Prometheus scrapes it (the scrape token): the fleet's gauges for every box
    // with the intake, triage and review figures, while health goes on at the real rate
    {
      const token = randomBytes(32).toString('base64url');
      const tokenFile = path.join(kit.forceDir, 'metrics-token');
      writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
      const consoleConfig = path.join(dir, 'console.yaml');
      writeFileSync(consoleConfig, `force: {dir: ${JSON.stringify(kit.forceDir)}}\nconsole: {host: 127.0.0.1, port: 0, metrics_token_file: ${JSON.stringify(tokenFile)}}\nlog: {level: warn, pretty: false}\n`);
      const consoleProc = new ManagedProcess(process.execPath, [forceCli, 'console', '--config', consoleConfig]);
      try {
        const at = await consoleProc.waitForLine(/console at https:\/\/127\.0\.0\.1:(\d+)\//, 60_000);
        const { WebClient } = await dist('devkit/web-client.js');
        const web = new WebClient(Number(at[1]), readFileSync(path.join(kit.forceDir, 'web', 'cert.pem'), 'utf8'));
        const scrape = async () => {
          const t = performance.now();
          const a = await web.request('GET', '/metrics', undefined, { headers: { authorization: `Bearer ${token}` } });
          if (a.status !== 200) throw new Error(`/metrics answered ${a.status}: ${a.text.slice(0, 500)}`);
          return { ms: performance.now() - t, bytes: a.text.length, text: a.text };
        };
        await scrape(); // the first one loads what the later ones reuse
        const c0 = procStat(consoleProc.pid).cpuS;
        const runs = [];
        for (let i = 0; i < SCRAPES; i++) runs.push(await scrape());
        const cpuMs = ((procStat(consoleProc.pid).cpuS - c0) * 1000) / SCRAPES;
        const last = runs.at(-1);
        result.console_metrics = {
          scrapes: SCRAPES,
          wall_ms: stats(runs.map((r) => r.ms)),
          console_cpu_ms_per_scrape: round(cpuMs, 1),
          bytes: last.bytes,
          box_online_series: (last.text.match(/^hindsight_force_box_online\{/gm) ?? []).length,
          console_peak_rss_mib: mib(memOf(consoleProc.pid).peak),
        };
        log(`console /metrics (${BOXES} boxes, ${round(last.bytes / 1024, 0)} KiB, ${result.console_metrics.box_online_series} box_online series): p50 ${result.console_metrics.wall_ms.p50} ms, p95 ${result.console_metrics.wall_ms.p95} ms, ${result.console_metrics.console_cpu_ms_per_scrape} ms of the console's CPU per scrape`);
      } finally {
        await consoleProc.stop();
      }
    }

    // --- one job to every box: `fleet cmd all ping`, start -> every reply recorded
    const c0 = procStat(rpid).cpuS;
    const r0 = sim.replies;
    log(`hindsight-force fleet cmd all ping --ttl 120 to ${BOXES} boxes`);
    const job = await runCli([forceCli, 'fleet', 'cmd', 'all', 'ping', '--json', '--ttl', '120', '--config', kit.forceConfig]);
    let cmds;
    try {
      cmds = JSON.parse(job.stdout);
    } catch {
      throw new Error(`fleet cmd all ping printed no JSON (exit ${job.code}): ${job.stderr.slice(-2000)}`);
    }
    const startedUtc = job.startedUtc;
    const finishedMs = job.ms;
    const jobCpu = procStat(rpid).cpuS - c0;
    const by = (s) => cmds.filter((c) => c.status === s).length;
    const created = cmds.map((c) => c.createdUtc);
    const sent = cmds.filter((c) => c.sentUtc).map((c) => c.sentUtc);
    const replied = cmds.filter((c) => c.repliedUtc).map((c) => c.repliedUtc);
    const lastReplied = replied.length ? Math.max(...replied) : null;
    const sentSorted = [...sent].sort((a, b) => a - b);
    const gaps = sentSorted.slice(1).map((t, k) => t - sentSorted[k]);
    result.group_job = {
      op: 'ping',
      boxes: cmds.length,
      done: by('done'),
      failed: by('failed'),
      expired: by('expired'),
      other: cmds.length - by('done') - by('failed') - by('expired'),
      job: cmds[0]?.jobId ?? null,
      start_to_all_replies_recorded_s: lastReplied ? round((lastReplied - startedUtc) / 1000, 2) : null,
      start_to_wait_over_s: round(finishedMs / 1000, 2),
      issue_s: round((Math.max(...created) - startedUtc) / 1000, 2),
      first_to_last_sent_s: sent.length ? round((Math.max(...sent) - Math.min(...sent)) / 1000, 2) : null,
      // the receiver sends at most 50 per pass (about one pass a second), one publish after the other, each
      // waiting for its PUBACK: the time between two sends within a pass
      ms_between_sends_in_a_pass: stats(gaps.filter((g) => g < 300), 1),
      last_issued_to_last_reply_s: lastReplied ? round((lastReplied - Math.max(...created)) / 1000, 2) : null,
      sent_to_replied_ms: stats(cmds.filter((c) => c.sentUtc && c.repliedUtc).map((c) => c.repliedUtc - c.sentUtc), 0),
      receiver_cpu_s: round(jobCpu, 2),
      simulator_replies: sim.replies - r0,
      load_avg: os.loadavg().map((x) => round(x, 2)),
    };
    log(`ping job: ${result.group_job.done} done, ${result.group_job.failed} failed, ${result.group_job.expired} expired; start -> all replies recorded ${result.group_job.start_to_all_replies_recorded_s} s (issue ${result.group_job.issue_s} s, first -> last sent ${result.group_job.first_to_last_sent_s} s, sent -> replied p95 ${result.group_job.sent_to_replied_ms.p95} ms)`);

    // --- the force's view after the run: every box online with a health document
    const finalList = await runCli(listArgs);
    const view = JSON.parse(finalList.stdout);
    const good = view.filter((b) => b.state === 'online' && b.health && typeof b.health === 'object' && Array.isArray(b.health.cameras) && !b.revoked).length;
    result.verification = { boxes_listed: view.length, online_with_health: good, ok: view.length === BOXES && good === BOXES, simulator: { ...sim, lastReplyUtc: undefined } };
    log(`fleet list after the run: ${good}/${view.length} online with a health document`);

    result.peak = {
      receiver_peak_rss_mib: mib(memOf(rpid).peak),
      broker_peak_rss_mib: mib(memOf(bpid).peak),
      broker_rss_mib_now: mib(memOf(bpid).now),
      simulator_rss_mib: mib(process.memoryUsage().rss),
      receiver_log_lines: receiver.lines.length,
    };
  } finally {
    clearInterval(ticker);
    await Promise.all(boxes.filter(Boolean).map((b) => b.client.endAsync(true).catch(() => undefined)));
    roDb?.close();
    await receiver?.stop();
    await kit?.broker.stop();
    if (env.HINDSIGHT_BENCH_KEEP) log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }

  const c = result.compressed_rate;
  const scaled = round(c.receiver_cpu_pct_of_core * (INTERVAL_S / REAL_INTERVAL_S), 2);
  const measured = result.real_rate?.receiver_cpu_pct_of_core ?? null;
  const cpuReal = measured ?? scaled;
  return {
    summary: {
      boxes: BOXES,
      health_interval_s: INTERVAL_S,
      receiver_cpu_pct_compressed: c.receiver_cpu_pct_of_core,
      receiver_cpu_pct_real_rate_scaled: scaled,
      receiver_cpu_pct_real_rate_measured: measured,
      cpu_pass: Math.max(scaled, cpuReal) < TARGET_CPU_PCT,
      receiver_peak_rss_mib: result.peak.receiver_peak_rss_mib,
      broker_peak_rss_mib: result.peak.broker_peak_rss_mib,
      fleet_list_ms: result.fleet_list.cli_wall_ms,
      fleet_list_ms_without_node_extra_ca_certs: result.fleet_list.cli_wall_ms_without_node_extra_ca_certs ?? null,
      fleet_list_pass: result.fleet_list.cli_wall_ms.p95 < TARGET_LIST_P95_MS,
      console_metrics_ms: result.console_metrics.wall_ms,
      group_ping_to_all_replies_s: result.group_job.start_to_all_replies_recorded_s,
      group_ping: { done: result.group_job.done, failed: result.group_job.failed, expired: result.group_job.expired },
      all_online_with_health: result.verification.ok,
      load_avg: result.group_job.load_avg,
      targets: { receiver_cpu_pct_of_core_at_real_rate: TARGET_CPU_PCT, fleet_list_p95_ms: TARGET_LIST_P95_MS },
    },
    ...result,
    notes:
      `${BOXES} simulated boxes (MQTT 5 clients over TLS in the benchmark process, each its own enrollment's credentials, client id = username, offline will) publish retained state at connect and a HealthPayload-valid document (4-8 cameras) every health_interval_s, phases spread at random; the real interval is ${REAL_INTERVAL_S} s. ` +
      'Receiver figures are of the receiver process only (/proc/<pid>): the simulator and the broker share the 2 cores but are reported apart. ' +
      'Scaled = compressed CPU x interval/60 (linear; the receiver\'s 1 s sweep is a fixed cost, so the measured real-rate figure is the better one). ' +
      'fleet list is the wall time of the hindsight-force CLI process (node start-up and module loading, DB open, query, JSON), while the receiver and the simulated boxes run on the same 2 cores; in_process_ms is the fleet view and its JSON alone (the console\'s Fleet page runs the same fleetLines). When the environment sets NODE_EXTRA_CA_CERTS, every node start-up parses that file first: the runs without it are reported beside (pass/fail stays on the runs as the environment is). The simulated boxes answer ping without verifying the command signature. ' +
      `Enrollment: the first ${KIT_ENROLL_SAMPLE} by kit.enroll (one broker reload each), the rest by enrollDevice in one DB session and one reload.`,
  };
}
