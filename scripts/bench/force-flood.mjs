// Force flood: one box floods its own topics while other boxes' evidence keeps flowing through the receiver.
//  - A force installation with its private TLS Mosquitto (the broker kit's ACL, password file and limits),
//    BOXES boxes (default 5) and one flooder enrolled, and the force receiver as its own process
//    (`hindsight-force receive`, default intake settings unless set below).
//  - Each box (a SimulatedBox: the box's packaging, signature, sealing and chunking, QoS 1) sends its
//    evidence one envelope after another (about 100 KiB, 2-3 chunks), waiting for the force's `complete`
//    receipt each time. Intake latency = first publish of an envelope -> its complete receipt at the box.
//  - Unflooded: PER_BOX envelopes a box. Flooded: the flooder publishes FLOOD junk messages (default 10,000
//    of JUNK_BYTES, default 64 KiB: chunk-sized, on its own chunk topics, none of them valid) while the
//    boxes send PER_BOX more each (and go on until the flood is over).
//  - The receiver's RSS from /proc/<its pid> (sampled every 200 ms): its baseline (the highest sample of the
//    unflooded phase) against the highest during and after the flood; target: at most baseline + the
//    intake cap + 64 MiB. Its rejection rows and log lines for the flooder, and its intake gate's figures
//    (pauses, time paused, most bytes in flight) from its last log line.
// Only loopback: the kit's broker listens on a free port of 127.0.0.1 (never the machine's Mosquitto).
// Settings (environment): HINDSIGHT_BENCH_FLOOD_BOXES (5), _PER_BOX (12), _MESSAGES (10000), _JUNK_BYTES
// (65536), _CAP_BYTES (the receiver's intake.max_bytes_in_flight; default: the config default).
// HINDSIGHT_BENCH_KEEP=1 keeps the folder.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pct, procStat, round, stats } from './_measure.mjs';

const env = process.env;
const BOXES = Number(env.HINDSIGHT_BENCH_FLOOD_BOXES ?? 5);
const PER_BOX = Number(env.HINDSIGHT_BENCH_FLOOD_PER_BOX ?? 12);
const FLOOD = Number(env.HINDSIGHT_BENCH_FLOOD_MESSAGES ?? 10_000);
const JUNK_BYTES = Number(env.HINDSIGHT_BENCH_FLOOD_JUNK_BYTES ?? 65_536);
const CAP_BYTES = env.HINDSIGHT_BENCH_FLOOD_CAP_BYTES ? Number(env.HINDSIGHT_BENCH_FLOOD_CAP_BYTES) : undefined;
const PAD_BYTES = 100_000;
const FLOOD_IN_FLIGHT = 200;
const TARGET_P95_RATIO = 2;
const RSS_MARGIN = 64 * 2 ** 20;
const RECEIPT_TIMEOUT_MS = 30_000;
const RESENDS = 20;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mib = (b) => round(b / 2 ** 20, 1);

export async function run({ root, log }) {
  const dist = (p) => import(path.join(root, 'daemon/dist', p));
  const { parse, stringify } = createRequire(path.join(root, 'package.json'))('yaml');
  const Database = createRequire(path.join(root, 'package.json'))('better-sqlite3');
  const { startForceKit } = await dist('devkit/force.js');
  const { SimulatedBox } = await dist('devkit/evidence-box.js');
  const { ManagedProcess } = await dist('devkit/process.js');
  const { forcePaths } = await dist('force/paths.js');
  const { ForceConfigSchema } = await dist('force/config.js');
  const forceCli = path.join(root, 'daemon/dist/force/main.js');

  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-bench-flood-'));
  const ids = Array.from({ length: BOXES }, (_, i) => `box-${String(i + 1).padStart(2, '0')}`);
  const FLOODER = 'box-flood';
  const boxes = [];
  let flooder;
  let kit;
  let receiver;
  let sampler;
  const result = {};
  try {
    kit = await startForceKit(dir, { devices: [...ids, FLOODER].map((id) => ({ id, store: `Store ${id}` })) });
    const config = parse(readFileSync(kit.forceConfig, 'utf8'));
    if (CAP_BYTES) writeFileSync(kit.forceConfig, stringify({ ...config, intake: { max_bytes_in_flight: CAP_BYTES } }), { mode: 0o600 });
    const cap = CAP_BYTES ?? ForceConfigSchema.properties.intake.properties.max_bytes_in_flight.default;
    receiver = new ManagedProcess(process.execPath, [forceCli, 'receive', '--config', kit.forceConfig]);
    await receiver.waitForLine(/receiving evidence/, 30_000);
    const rpid = receiver.pid;
    for (const id of ids) boxes.push(await SimulatedBox.connect(kit, id));
    flooder = await SimulatedBox.connect(kit, FLOODER);
    log(`force kit: broker ${kit.broker.url}; receiver pid ${rpid}, intake cap ${mib(cap)} MiB; ${BOXES} boxes and a flooder connected`);

    // packages made before anything is timed (distinct incidents; sealing happens per send)
    const packages = new Map();
    for (const b of boxes) {
      const list = [];
      for (let i = 0; i < 4 * PER_BOX; i++) list.push(await b.samplePackage(path.join(dir, 'packages'), PAD_BYTES));
      packages.set(b.deviceId, list);
    }

    const rss = [];
    let phase = 'warmup';
    sampler = setInterval(() => {
      const s = procStat(rpid);
      const b = procStat(kit.broker.pid);
      if (s) rss.push({ phase, bytes: s.rssBytes, broker: b?.rssBytes ?? 0 });
    }, 200);
    /** The complete receipt's arrival; the box sends the envelope again when none came in RECEIPT_TIMEOUT_MS, as a box does. */
    const receipted = async (b, id) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await b.complete(id, RECEIPT_TIMEOUT_MS);
        } catch (err) {
          if (attempt >= RESENDS) throw err;
          resends++;
          await b.resend(id);
        }
      }
    };
    let resends = 0;
    /** Each box sends envelopes one after another until `until()` says stop and it sent at least `min`. */
    const traffic = async (min, until) => {
      const latencies = [];
      await Promise.all(
        boxes.map(async (b) => {
          const list = packages.get(b.deviceId);
          for (let n = 0; n < min || !until(); n++) {
            const p = list.pop();
            if (!p) break;
            const { id, publishedAtMs } = await b.send(p.plaintext, p.incidentId);
            latencies.push((await receipted(b, id)) - publishedAtMs);
          }
        }),
      );
      return latencies;
    };

    // --- warm-up (not counted), then unflooded
    await traffic(2, () => true);
    phase = 'unflooded';
    const t0 = performance.now();
    const unflooded = await traffic(PER_BOX, () => true);
    const unfloodedS = (performance.now() - t0) / 1000;
    const baseline = Math.max(...rss.filter((s) => s.phase === 'unflooded').map((s) => s.bytes));
    log(`unflooded: ${unflooded.length} envelopes in ${round(unfloodedS, 1)} s, intake p50 ${round(pct(unflooded, 0.5), 1)} ms, p95 ${round(pct(unflooded, 0.95), 1)} ms; receiver RSS ${mib(baseline)} MiB`);

    // --- flooded
    phase = 'flooded';
    const floodStarted = Date.now();
    let floodDone = false;
    const f0 = performance.now();
    const flood = (async () => {
      const inFlight = new Set();
      let failed = 0;
      for (let i = 0; i < FLOOD; i++) {
        const topic = `${kit.prefix}/${FLOODER}/ev/${randomBytes(16).toString('hex')}/${i % 4}`;
        const p = flooder.client.publishAsync(topic, randomBytes(JUNK_BYTES), { qos: 1 }).catch(() => void failed++).finally(() => inFlight.delete(p));
        inFlight.add(p);
        if (inFlight.size >= FLOOD_IN_FLIGHT) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      floodDone = true;
      return { published_s: round((performance.now() - f0) / 1000, 1), failed };
    })();
    const flooded = await traffic(PER_BOX, () => floodDone);
    const floodFigures = await flood;
    // the receiver works through what the broker still holds for it: until every junk message is counted
    const db = new Database(forcePaths(kit.forceDir).db, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    const counted = () => {
      const rows = db.prepare('SELECT reason, detail FROM rejections WHERE (topic = ? OR topic LIKE ?) AND ts_utc >= ?').all(`${kit.prefix}/${FLOODER}`, `${kit.prefix}/${FLOODER}/%`, floodStarted);
      let n = 0;
      for (const r of rows) n += r.reason === 'suppressed' ? Number(/^(\d+) more/.exec(r.detail)?.[1] ?? 0) : 1;
      return { rows: rows.length, single: rows.filter((r) => r.reason !== 'suppressed').length, n };
    };
    const d0 = performance.now();
    let c = counted();
    while (c.n < FLOOD && performance.now() - d0 < 300_000) {
      await sleep(500);
      c = counted();
    }
    const drainedS = (performance.now() - f0) / 1000;
    const peakFlood = Math.max(...rss.filter((s) => s.phase === 'flooded').map((s) => s.bytes));
    clearInterval(sampler);
    db.close();
    log(`flood: ${FLOOD} x ${JUNK_BYTES} B published in ${floodFigures.published_s} s, all counted after ${round(drainedS, 1)} s (${c.n} counted in ${c.rows} rows); others' intake p50 ${round(pct(flooded, 0.5), 1)} ms, p95 ${round(pct(flooded, 0.95), 1)} ms`);

    // --- the receiver's own account at its stop
    await receiver.stop(10_000);
    const lines = receiver.lines.flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return [];
      }
    });
    const gate = lines.find((l) => l.msg === 'intake stopped') ?? null;
    const floodLines = lines.filter((l) => String(l.topic ?? '').startsWith(`${kit.prefix}/${FLOODER}/`) || l.device === FLOODER);

    const p95Ratio = pct(unflooded, 0.95) ? pct(flooded, 0.95) / pct(unflooded, 0.95) : null;
    const rssLimit = baseline + cap + RSS_MARGIN;
    result.settings = { boxes: BOXES, envelopes_per_box_per_phase: PER_BOX, envelope_plaintext_bytes: `~${PAD_BYTES + 30_000}`, flood_messages: FLOOD, junk_bytes: JUNK_BYTES, flood_publishes_in_flight: FLOOD_IN_FLIGHT, intake_cap_bytes: cap };
    result.unflooded = { intake_ms: stats(unflooded), wall_s: round(unfloodedS, 1) };
    result.flooded = { intake_ms: stats(flooded), envelopes_sent_again_for_want_of_a_receipt: resends, flood_published_s: floodFigures.published_s, flood_publish_failures: floodFigures.failed, all_junk_counted_after_s: round(drainedS, 1) };
    result.rejections = { counted: c.n, rows: c.rows, rows_one_by_one: c.single, summary_rows: c.rows - c.single, receiver_log_lines_for_flooder: floodLines.length };
    result.receiver_rss = { baseline_mib: mib(baseline), peak_flooded_mib: mib(peakFlood), limit_mib: mib(rssLimit), within_limit: peakFlood <= rssLimit };
    // Mosquitto with the kit's persistence (autosave_on_changes, autosave_interval 1) writes its whole store at each change
    const saves = kit.broker.log.split('\n').filter((l) => l.includes('Saving in-memory database')).length;
    result.broker = { whole_store_saves: saves, rss_peak_mib: mib(Math.max(...rss.map((s) => s.broker))) };
    result.intake_gate = gate && { pauses: gate.pauses, paused_ms: gate.pausedMs, peak_bytes_in_flight: gate.peakBytes };
    result.summary = {
      p95_unflooded_ms: round(pct(unflooded, 0.95), 1),
      p95_flooded_ms: round(pct(flooded, 0.95), 1),
      p95_ratio: round(p95Ratio, 2),
      p95_target_met: p95Ratio !== null && p95Ratio <= TARGET_P95_RATIO,
      rss_baseline_mib: mib(baseline),
      rss_peak_mib: mib(peakFlood),
      rss_limit_mib: mib(rssLimit),
      rss_target_met: peakFlood <= rssLimit,
      junk_counted: c.n,
      rejection_rows: c.rows,
    };
    return result;
  } finally {
    clearInterval(sampler);
    for (const b of [...boxes, flooder].filter(Boolean)) await b.close().catch(() => undefined);
    await receiver?.stop().catch(() => undefined);
    await kit?.broker.stop().catch(() => undefined);
    if (env.HINDSIGHT_BENCH_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
    else {
      if (receiver) writeFileSync(path.join(dir, 'receiver.log'), receiver.lines.join('\n') + '\n');
      writeFileSync(path.join(dir, 'broker.log'), kit?.broker.log ?? '');
      log(`kept ${dir} (receiver.log, broker.log)`);
    }
  }
}
