// Soak: 8 RTSP test cameras recorded for 2 hours with a 10-minute buffer (retention cycles a dozen times),
// 20 incidents spread through it (2 cameras, 30 s each) sealed and sent to a force receiver through a private
// TLS Mosquitto, one camera outage and one broker restart (kill -9, down, back on the same port). Measured from
// outside, as an operator would: the daemon's RSS from /proc every ~30 s (least-squares slope over the second
// half of the samples taken with no incident in progress, MiB/hour: an analysis holds frames and workers for its
// while; and of the daemon with all it started), the WAL file's size (every second), the daemon's child processes
// and open file descriptors (at rest after the first receipt vs at rest at the end;
// and every child gone once the daemon stopped), every segment and gap of the daemon's index (read-only, every
// sample, kept after retention deletes them: a hole between two segments that no recorded gap covers is footage
// lost), every incident's state and receipt (`incident list`), and the audit rows (`audit export`) per action,
// extrapolated to a day.
// `npm run bench -- soak --minutes 12` runs the same shape in 12 minutes (see _soak-plan.mjs); the benchmark
// never runs longer than the run plus GRACE_MINUTES, and stops everything it started on Ctrl-C.
// HINDSIGHT_BENCH_KEEP=1 keeps the run's folder, with soak-record.json (what was seen) for `summarise`.
// Cameras: 640x360 at 10 fps, a keyframe every 2 s, 250 kbit/s, encoded once and replayed by the test camera
// without re-encoding: 8 live x264 encoders would take the 2 cores away from the daemon being measured.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { auditRates } from './_audit-rates.mjs';
import { openFds, procStat, round, slope, stats, statusBytes, treePids } from './_measure.mjs';
import { SegmentLedger } from './_segment-ledger.mjs';
import { CAMERAS, soakPlan } from './_soak-plan.mjs';

/** Only run when named: two hours is too long for `npm run bench` with no names. */
export const explicitOnly = true;

const VIDEO = { width: 640, height: 360, fps: 10, gop: 20, bitrateKbps: 250 };
const DEVICE = 'soak-box';
const RSS_SLOPE_MAX_MIB_H = 2;
const WAL_MAX_MIB = 64;
// one automatic checkpoint's worth (1000 pages of 4 KiB): the WAL may reach a little further in the second half
const WAL_GROWTH_SLACK_MIB = 4;
const DELIVERY_WAIT_S = 180;
const RETENTION_INTERVAL_S = 30; // buffer.retention_interval_s, its default
// one notice of deletions to the force is 3 audit rows at once (sealed, sent, delivered): a burst, not a trend
const BACKGROUND_BURST_ROWS = 3;
const mib = (bytes) => (bytes === null ? null : bytes / 2 ** 20);

export async function run({ root, log, options = {} }) {
  const plan = soakPlan(options);
  const benchStart = Date.now();
  const dist = (p) => path.join(root, 'daemon', 'dist', p);
  const { startCamera } = await import(dist('devkit/camera.js'));
  const { startForceKit, enrollBox } = await import(dist('devkit/force.js'));
  const { ManagedProcess, stopAllManaged, isAlive } = await import(dist('devkit/process.js'));
  const { makeTestVideo, lengthenVideo } = await import(dist('devkit/media.js'));
  const { runCommand } = await import(dist('util/child.js'));
  const { openDatabase } = await import(dist('db/db.js'));
  const { SegmentsRepo } = await import(dist('db/repos/segments.js'));
  const { GapsRepo } = await import(dist('db/repos/gaps.js'));
  const { GAP_TOLERANCE_MS } = await import(dist('recorder/camera-index.js'));

  // the bound: a watchdog aborts every wait; Ctrl-C and SIGTERM do the same, and the finally block cleans up
  const abort = new AbortController();
  const stopOn = (why) => () => abort.abort(new Error(why));
  const watchdog = setTimeout(stopOn(`soak: reached its bound of ${plan.minutes} + ${plan.graceS / 60} minutes; stopped`), plan.boundS * 1000);
  const onSigint = stopOn('soak: stopped by SIGINT');
  const onSigterm = stopOn('soak: stopped by SIGTERM');
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigterm);
  const sleep = (ms) =>
    new Promise((resolve, reject) => {
      if (abort.signal.aborted) return reject(abort.signal.reason);
      const t = setTimeout(() => {
        abort.signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(t);
        reject(abort.signal.reason);
      };
      abort.signal.addEventListener('abort', onAbort, { once: true });
    });

  // setup steps cannot be interrupted midway (an encode, a start-up): a stop asked meanwhile takes effect after each
  const stillWanted = () => {
    if (abort.signal.aborted) throw abort.signal.reason;
  };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-bench-soak-'));
  const config = path.join(dir, 'config.yaml');
  const cameras = [];
  let kit;
  let receiver;
  let daemon;
  let db;
  try {
    const loadBefore = os.loadavg();
    const video = await soakVideo(root, plan.totalS + 600, { makeTestVideo, lengthenVideo }, log);
    stillWanted();
    const perHour = plan.incidentsPerHourLimit;
    writeFileSync(
      config,
      stringify({
        version: 1,
        device: { id: DEVICE, store: 'Soak Store' },
        paths: { state_dir: path.join(dir, 'state') },
        log: { level: 'info', pretty: false },
        cameras: { networks: ['127.0.0.0/8'] },
        buffer: { hours: plan.bufferMinutes / 60, min_free_gb: 0 },
        incidents: { per_user_per_hour: perHour, per_device_per_hour: perHour },
        web: { host: '127.0.0.1', port: 0 },
      }),
    );
    const cli = async (...args) => {
      const r = await runCommand(process.execPath, [dist('cli/main.js'), ...args, '--config', config], { timeoutMs: 60_000 });
      if (r.code !== 0) throw new Error(`hindsight ${args.join(' ')}: ${r.stderr.toString()}`);
      return r.stdout.toString('utf8');
    };

    log('force kit (keys, TLS Mosquitto with the generated ACL), enrollment, receiver');
    kit = await startForceKit(dir, { devices: [{ id: DEVICE, store: 'Soak Store' }] });
    enrollBox(config, kit.bundle(DEVICE), kit.forceDir);
    receiver = new ManagedProcess(process.execPath, [dist('force/main.js'), 'receive', '--config', kit.forceConfig]);
    await receiver.waitForLine(/receiving evidence/, 60_000);
    for (let i = 0; i < CAMERAS; i++) {
      stillWanted();
      cameras.push(await startCamera({ mode: 'file', file: video }));
    }
    for (const [i, cam] of cameras.entries()) await cli('camera', 'add', '--id', `cam${i + 1}`, '--name', `Camera ${i + 1}`, '--url', cam.url);
    stillWanted();
    daemon = new ManagedProcess(process.execPath, [dist('cli/main.js'), 'run', '--config', config]);
    await daemon.waitForLine(/"msg":"hindsight running"/, 60_000);
    for (let i = 0; i < CAMERAS; i++) await daemon.waitForLine(new RegExp(`camera cam${i + 1}: recording`), 60_000);
    db = openDatabase(path.join(dir, 'state', 'hindsight.db'), { readonly: true, quickCheck: false });
    const segmentsRepo = new SegmentsRepo(db);
    const gapsRepo = new GapsRepo(db);
    const walFile = path.join(dir, 'state', 'hindsight.db-wal');

    const t0 = Date.now();
    const atS = () => (Date.now() - t0) / 1000;
    log(`all ${CAMERAS} cameras recording; soak of ${plan.minutes} min (buffer ${plan.bufferMinutes} min, ${plan.incidents.length} incidents) until ${new Date(t0 + plan.totalS * 1000).toISOString()}`);
    const ledger = new SegmentLedger(plan.bufferMinutes * 60_000, GAP_TOLERANCE_MS);
    const samples = [];
    const wal = { maxBytes: 0, firstHalfMaxBytes: 0, secondHalfMaxBytes: 0 };
    const incidents = [];
    const late = [];
    const cpuStart = { daemon: procStat(daemon.pid).cpuS, cameras: cameras.map((c) => procStat(c.pid)?.cpuS ?? 0) };

    const walTick = () => {
      let size = 0;
      try {
        size = statSync(walFile).size;
      } catch {
        /* no WAL file between checkpoints that removed it */
      }
      wal.maxBytes = Math.max(wal.maxBytes, size);
      const half = atS() < plan.totalS / 2 ? 'firstHalfMaxBytes' : 'secondHalfMaxBytes';
      wal[half] = Math.max(wal[half], size);
    };
    const waitUntil = async (ms) => {
      for (;;) {
        walTick();
        const left = ms - Date.now();
        if (left <= 0) return;
        await sleep(Math.min(1000, left));
      }
    };
    const cliErrors = [];
    const pollIncidents = async () => {
      let views;
      try {
        views = JSON.parse(await cli('incident', 'list', '--json', '--limit', '100'));
      } catch (err) {
        // one missed look is not a finding; it is kept in the report
        cliErrors.push({ at_s: round(atS(), 1), error: String(err.message ?? err).slice(0, 500) });
        return;
      }
      for (const v of views) {
        const mine = incidents.find((i) => i.id === v.id);
        if (mine) Object.assign(mine, { state: v.state, delivery: v.delivery, failure: v.failure ?? null, wait: v.wait ?? null });
      }
    };
    const observeIndex = () => {
      const segs = [];
      const gaps = [];
      for (let i = 1; i <= CAMERAS; i++) {
        segs.push(...segmentsRepo.forCamera(`cam${i}`));
        gaps.push(...gapsRepo.forCamera(`cam${i}`));
      }
      ledger.observe(Date.now(), segs, gaps);
    };
    const sample = async () => {
      const kids = treePids(daemon.pid);
      const byComm = {};
      const rss = statusBytes(daemon.pid, 'VmRSS');
      let treeRss = rss ?? 0;
      for (const p of kids) {
        const st = procStat(p);
        const c = st?.comm ?? '?';
        byComm[c] = (byComm[c] ?? 0) + 1;
        treeRss += st?.rssBytes ?? 0;
      }
      const fds = openFds(daemon.pid);
      let walBytes = 0;
      try {
        walBytes = statSync(walFile).size;
      } catch {
        /* none at the moment */
      }
      const files = fds?.files.map((f) => f.replace(dir, '<run>').replace(root, '<install>')) ?? null;
      samples.push({ t_s: round(atS(), 1), rss_mib: round(mib(rss), 1), tree_rss_mib: round(mib(treeRss), 1), fds: fds?.count ?? null, fd_kinds: fds?.kinds ?? null, fd_files: files, children: kids.length, children_by_comm: byComm, wal_mib: round(mib(walBytes), 2), load1: round(os.loadavg()[0], 2) });
      observeIndex();
      await pollIncidents();
    };

    const events = [];
    plan.incidents.forEach((inc, n) =>
      events.push({
        atS: inc.atS,
        name: `incident ${n + 1}`,
        run: async () => {
          const entry = { n: n + 1, cameras: inc.cameras, loggedAtMs: Date.now(), id: null, state: 'not logged', delivery: null, failure: null };
          incidents.push(entry);
          try {
            const out = await cli('incident', 'log', '--json', '--at', 'now', '--before', String(plan.windowBeforeS), '--after', '0', '--camera', ...inc.cameras, '--reason', 'theft', '--justification', `soak benchmark incident number ${n + 1}`);
            Object.assign(entry, { id: JSON.parse(out).id, state: 'logged' });
          } catch (err) {
            entry.failure = String(err.message ?? err);
            log(`incident ${n + 1} could not be logged: ${entry.failure}`);
          }
        },
      }),
    );
    const outageCamera = cameras[Number(plan.outage.camera.slice(3)) - 1];
    const outage = {};
    events.push({ atS: plan.outage.atS, name: 'camera outage', run: async () => ((outage.fromMs = Date.now()), await outageCamera.kill9()) });
    events.push({ atS: plan.outage.atS + plan.outage.downS, name: 'camera back', run: async () => (await outageCamera.start(), (outage.toMs = Date.now())) });
    events.push({ atS: plan.brokerRestart.atS, name: 'broker kill -9', run: () => kit.broker.kill9() });
    events.push({ atS: plan.brokerRestart.atS + plan.brokerRestart.downS, name: 'broker back', run: () => kit.broker.start() });
    for (let s = 0; s <= plan.totalS; s += plan.sampleS) events.push({ atS: s, name: 'sample', run: sample });
    events.sort((a, b) => a.atS - b.atS || (a.name === 'sample' ? 1 : -1));

    for (const ev of events) {
      await waitUntil(t0 + ev.atS * 1000);
      const lateS = atS() - ev.atS;
      if (lateS > 5) late.push({ event: ev.name, at_s: ev.atS, late_s: round(lateS, 1) });
      if (ev.name !== 'sample') log(`${round(atS(), 0)} s: ${ev.name}`);
      await ev.run();
    }
    const runEndMs = Date.now();
    const cpuEnd = { daemon: procStat(daemon.pid).cpuS, cameras: cameras.map((c) => procStat(c.pid)?.cpuS ?? 0) };

    // the last incidents' receipts: wait while any is still on its way
    const settled = (i) => i.id === null || (i.state === 'delivered' && i.delivery?.state === 'delivered') || (i.state === 'failed' && i.wait?.kind !== 'retry');
    const waitEnd = Math.min(runEndMs + DELIVERY_WAIT_S * 1000, benchStart + (plan.boundS - 90) * 1000);
    while (!incidents.every(settled) && Date.now() < waitEnd) {
      await waitUntil(Date.now() + 5000);
      await pollIncidents();
    }
    await sample();
    const endMs = Date.now();

    const auditFile = path.join(dir, 'audit.jsonl');
    await cli('audit', 'export', '--out', auditFile);
    const auditRows = readFileSync(auditFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const buffer = JSON.parse(await cli('buffer', 'status', '--json'));
    db.close();
    db = undefined;

    // every child of the daemon must be gone once it stopped
    const childrenAtStop = treePids(daemon.pid);
    await daemon.stop(15_000);
    await sleep(2000);
    const orphans = childrenAtStop.filter(isAlive).map((p) => ({ pid: p, comm: procStat(p)?.comm }));

    const record = { cliErrors, plan, samples, wal, incidents, ledger, auditRows, buffer, outage, late, orphans, t0, runEndMs, endMs, cpuStart, cpuEnd, loadBefore, outageCamera: plan.outage.camera };
    // what was seen, kept with the run's folder (HINDSIGHT_BENCH_KEEP=1) to look into a figure afterwards
    writeFileSync(path.join(dir, 'soak-record.json'), JSON.stringify({ ...record, ledger: { segments: [...ledger.segments.values()], gaps: [...ledger.gaps.values()], vanished: ledger.vanished } }));
    return summarise(record);
  } finally {
    clearTimeout(watchdog);
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    db?.close();
    await daemon?.stop(15_000);
    await receiver?.stop();
    await kit?.broker.stop();
    await Promise.all(cameras.map((c) => c.stop()));
    await stopAllManaged();
    if (process.env.HINDSIGHT_BENCH_KEEP) log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

/** The cameras' replay: encoded once (a minute), lengthened by stream copy, cached in .state/bench/. */
async function soakVideo(root, seconds, { makeTestVideo, lengthenVideo }, log) {
  const cache = path.join(root, '.state', 'bench');
  mkdirSync(cache, { recursive: true });
  const tag = `${VIDEO.width}x${VIDEO.height}-${VIDEO.fps}fps-${VIDEO.bitrateKbps}k`;
  const file = path.join(cache, `soak-${tag}-${seconds}s.ts`);
  if (existsSync(file)) return file;
  const short = path.join(cache, `soak-${tag}-60s.ts`);
  if (!existsSync(short)) {
    log(`encoding a minute of ${tag} once (cached in .state/bench/)`);
    await makeTestVideo(short, { seconds: 60, ...VIDEO });
  }
  return lengthenVideo(short, file, seconds);
}

/** The smallest value of a window of samples: at rest, without the short-lived children and fds that come and go. */
const floorOf = (xs) => (xs.length ? Math.min(...xs) : null);

/** The figures, targets and pass flags of a run from what it saw (a kept run's soak-record.json can be summarised again). */
export function summarise(r) {
  const { plan, samples } = r;
  const periodH = (r.runEndMs - r.t0) / 3_600_000;
  // at rest: no incident between its logging and its receipt (an analysis holds models, frames and workers)
  const busy = r.incidents.filter((i) => i.id).map((i) => [(i.loggedAtMs - r.t0) / 1000, i.delivery?.deliveredUtc ? (i.delivery.deliveredUtc - r.t0) / 1000 : Infinity]);
  const atRest = (s) => !busy.some(([a, b]) => s.t_s >= a && s.t_s <= b);
  // the face pipeline is loaded at the first incident and stays: the comparisons start after its receipt
  const firstReceiptS = Math.min(...busy.map(([, b]) => b));
  const startWindow = samples.filter((s) => s.t_s >= Math.max(plan.warmupS, firstReceiptS) && atRest(s)).slice(0, 3);
  const endWindow = samples.slice(-3);
  // RSS: least-squares slope over the second half of the run, of the samples at rest (and of all, for comparison)
  const second = samples.filter((s) => s.t_s >= plan.totalS / 2 && s.t_s <= plan.totalS && s.rss_mib !== null);
  const line = (xs, key = 'rss_mib') => slope(xs.filter((s) => s[key] != null).map((s) => ({ x: s.t_s / 3600, y: s[key] })));
  const rssSlope = line(second.filter(atRest));
  const before = samples.filter((s) => s.t_s < (busy[0]?.[0] ?? Infinity));
  const children = { start: floorOf(startWindow.map((s) => s.children)), end: floorOf(endWindow.map((s) => s.children)) };
  const fds = { start: floorOf(startWindow.map((s) => s.fds)), end: floorOf(endWindow.map((s) => s.fds)) };
  // segments and gaps
  const cams = r.ledger.report();
  const lost = cams.flatMap((c) => c.lost.map((h) => ({ camera: c.cameraId, ...h })));
  const early = r.ledger.vanished.early;
  const outageGap = cams.find((c) => c.cameraId === r.outageCamera)?.gaps.some((g) => g.fromUtcMs <= r.outage.toMs && (g.toUtcMs ?? Infinity) >= r.outage.fromMs) ?? false;
  const deletedByAudit = r.auditRows.filter((a) => a.action === 'buffer.deleted' && a.ts_utc >= r.t0).reduce((n, a) => n + (a.detail?.segments ?? 0), 0);
  // incidents
  const delivered = r.incidents.filter((i) => i.state === 'delivered' && i.delivery?.state === 'delivered' && i.delivery.deliveredUtc);
  const toReceipt = delivered.map((i) => (i.delivery.deliveredUtc - i.loggedAtMs) / 1000);
  const steadyFromMs = r.t0 + (plan.bufferMinutes * 60 + RETENTION_INTERVAL_S) * 1000;
  const audit = auditRates(r.auditRows, r.t0, r.endMs, r.incidents.map((i) => i.id).filter(Boolean), steadyFromMs);
  const cpuPct = (a, b) => round((100 * (b - a)) / ((r.runEndMs - r.t0) / 1000), 2);
  // the cameras never restarted (the outage camera is a new process since)
  const steady = r.cpuStart.cameras.map((a, i) => ({ a, b: r.cpuEnd.cameras[i], id: `cam${i + 1}` })).filter((c) => c.id !== r.outageCamera);
  const loads = samples.map((s) => s.load1);
  const summary = {
    minutes: plan.minutes,
    buffer_minutes: plan.bufferMinutes,
    cameras: CAMERAS,
    incidents_logged: r.incidents.filter((i) => i.id).length,
    incidents_delivered: delivered.length,
    seconds_logged_to_receipt: stats(toReceipt, 1),
    rss_mib_before_first_incident: before[before.length - 1]?.rss_mib ?? null,
    rss_mib_at_rest_start: startWindow[0]?.rss_mib ?? null,
    rss_mib_at_rest_end: endWindow[endWindow.length - 1]?.rss_mib ?? null,
    rss_mib_max: Math.max(...samples.map((s) => s.rss_mib ?? 0)),
    rss_slope_mib_per_hour_second_half_at_rest: round(rssSlope, 2),
    rss_slope_points_at_rest: second.filter(atRest).length,
    rss_slope_mib_per_hour_second_half_all_samples: round(line(second), 2),
    // the daemon with everything it started (recorders, relay, analysis workers while they run)
    tree_rss_mib_at_rest_end: endWindow[endWindow.length - 1]?.tree_rss_mib ?? null,
    tree_rss_slope_mib_per_hour_second_half_at_rest: round(line(second.filter(atRest), 'tree_rss_mib'), 2),
    wal_mib_max: round(mib(r.wal.maxBytes), 2),
    wal_mib_max_first_half: round(mib(r.wal.firstHalfMaxBytes), 2),
    wal_mib_max_second_half: round(mib(r.wal.secondHalfMaxBytes), 2),
    children_at_rest_start: children.start,
    children_at_rest_end: children.end,
    children_left_after_stop: r.orphans.length,
    fds_at_rest_start: fds.start,
    fds_at_rest_end: fds.end,
    segments_seen: cams.reduce((n, c) => n + c.segments, 0),
    segments_deleted_by_retention_seen: r.ledger.vanished.byRetention,
    segments_deleted_per_audit_receipts: deletedByAudit,
    segments_gone_before_their_time: early.length,
    holes_between_segments: cams.reduce((n, c) => n + c.holes, 0),
    holes_not_covered_by_a_gap: lost.length,
    seconds_lost: round(lost.reduce((n, h) => n + h.uncoveredMs, 0) / 1000, 2),
    gaps_recorded: cams.reduce((n, c) => n + c.gaps.length, 0),
    outage_recorded_as_gap: outageGap,
    audit_rows_per_day: audit.rows_per_day,
    audit_rows_per_incident_median: audit.rows_per_incident.median,
    audit_background_rows_per_day: audit.background_per_day,
    daemon_cpu_pct_of_core: cpuPct(r.cpuStart.daemon, r.cpuEnd.daemon),
    camera_cpu_pct_of_core_each: round(steady.reduce((n, c) => n + cpuPct(c.a, c.b), 0) / steady.length, 2),
    load1_before: round(r.loadBefore[0], 2),
    load1_mean: round(loads.reduce((a, b) => a + b, 0) / loads.length, 2),
    load1_max: Math.max(...loads),
    events_late: r.late.length,
  };
  const pass = {
    pass_no_segment_lost: lost.length === 0 && early.length === 0 && outageGap,
    pass_every_incident_delivered: delivered.length === plan.incidents.length,
    pass_rss_slope: rssSlope !== null && rssSlope <= RSS_SLOPE_MAX_MIB_H,
    pass_wal_bounded: summary.wal_mib_max <= WAL_MAX_MIB && summary.wal_mib_max_second_half <= summary.wal_mib_max_first_half + WAL_GROWTH_SLACK_MIB,
    pass_no_leaked_children: children.end <= children.start && r.orphans.length === 0,
    pass_no_leaked_fds: fds.end <= fds.start,
    pass_audit_proportional:
      audit.background_rows_second_half <= 1.25 * audit.background_rows_first_half + BACKGROUND_BURST_ROWS && audit.rows_per_incident.max <= 2 * audit.rows_per_incident.median,
  };
  return {
    summary: { ...summary, ...pass },
    targets: {
      segments: 'no hole between consecutive segments outside a recorded gap; no segment leaves the index before the buffer length; the camera outage is a recorded gap',
      incidents: `all ${plan.incidents.length} reach delivered with the force's signed receipt`,
      rss_slope_mib_per_hour_second_half_at_rest: `<= ${RSS_SLOPE_MAX_MIB_H} (least-squares slope of the second half's samples taken with no incident in progress)`,
      wal_mib_max: `<= ${WAL_MAX_MIB}, and the second half's max <= the first half's + ${WAL_GROWTH_SLACK_MIB}`,
      children_and_fds: 'at rest at the end (the smallest of the last 3 samples) <= at rest after the first receipt (the smallest of the first 3 samples with no incident in progress); no child alive after the daemon stopped',
      audit: `background rows in the second half <= 1.25 x the first half + ${BACKGROUND_BURST_ROWS} (halves of the time after the buffer first filled); the most rows an incident made <= 2 x the median`,
    },
    parameters: {
      ...plan,
      incidents: plan.incidents.map((i) => ({ at_s: i.atS, cameras: i.cameras })),
      video: { ...VIDEO, replay: 'pre-encoded MPEG-TS replayed by the GStreamer test camera (no re-encode)' },
      segment_seconds: 4,
      retention_interval_s: RETENTION_INTERVAL_S,
      gap_tolerance_ms: r.ledger.toleranceMs,
    },
    period_h: round(periodH, 3),
    incidents: r.incidents.map((i) => ({ n: i.n, id: i.id, cameras: i.cameras, state: i.state, logged_to_receipt_s: i.delivery?.deliveredUtc ? round((i.delivery.deliveredUtc - i.loggedAtMs) / 1000, 1) : null, envelope_attempts: i.delivery?.attempts ?? null, failure: i.failure })),
    outage: { camera: r.outageCamera, from: new Date(r.outage.fromMs).toISOString(), to: new Date(r.outage.toMs).toISOString() },
    cameras: cams.map((c) => ({ camera: c.cameraId, segments: c.segments, recorded_s: round(c.recordedS, 1), span_s: round(c.spanS, 1), holes: c.holes, lost: c.lost, gaps: c.gaps })),
    segments_gone_early: early,
    fds: { start: startWindow.map((s) => ({ t_s: s.t_s, kinds: s.fd_kinds, files: s.fd_files })), end: endWindow.map((s) => ({ t_s: s.t_s, kinds: s.fd_kinds, files: s.fd_files })) },
    children: { start: startWindow.map((s) => s.children_by_comm), end: endWindow.map((s) => s.children_by_comm), left_after_stop: r.orphans },
    audit,
    buffer_at_end: { deletion_receipts: r.buffer.deletionReceipts, cameras: r.buffer.cameras.map((c) => ({ camera: c.cameraId, state: c.state, segments: c.segments, gaps: c.gaps, hours_buffered: round(c.hoursBuffered, 3), spawns: c.spawns })) },
    events_late: r.late,
    cli_errors: r.cliErrors,
    samples: samples.map(({ t_s, rss_mib, tree_rss_mib, fds: f, children: ch, wal_mib, load1 }) => ({ t_s, rss_mib, tree_rss_mib, fds: f, children: ch, wal_mib, load1 })),
  };
}
