// Force receivers: several `hindsight-force receive` processes share the intake, one is killed -9 mid-way.
//  - A force installation with its private TLS Mosquitto (the broker kit's ACL, password file and limits),
//    RECEIVERS receivers (default 3), each under its own broker identity from the kit (svc.force,
//    svc.force-2, ... with their environment files), all on one force.yaml, database and shared subscription.
//  - BOXES simulated boxes (default 200; the box's packaging, signature, sealing and chunking, QoS 1) send
//    PER_BOX envelopes each (default 10), one after another, waiting for each `complete` receipt (a whole
//    resend after RECEIPT_TIMEOUT_MS without one, and the chunks a `missing` receipt names, as a box does).
//    Chunks are CHUNK_BYTES (default 8 KiB) so each envelope is several messages spread over the receivers.
//  - Receiver 2 is killed -9 once KILL_AT of the envelopes are stored and started again DOWN_MS later.
//  - Reported: envelopes sent and stored, duplicate rows (GROUP BY on incidents and on evidence.received
//    audit rows), chunk rows left, rejections, `complete` receipts per envelope at the boxes, the time from
//    the first publish to the last receipt, each receiver's share of the chunks, envelopes whose chunks
//    spanned receivers, and whether the force's audit chain verifies.
// Only loopback: the kit's broker listens on a free port of 127.0.0.1 (never the machine's Mosquitto).
// Settings (environment): HINDSIGHT_BENCH_RECEIVERS_BOXES (200), _PER_BOX (10), _COUNT (3), _CHUNK_BYTES
// (8192), _PAD_BYTES (20000), _KILL_AT (0.4), _DOWN_MS (5000). HINDSIGHT_BENCH_KEEP=1 keeps the folder.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { round } from './_measure.mjs';

const env = process.env;
const BOXES = Number(env.HINDSIGHT_BENCH_RECEIVERS_BOXES ?? 200);
const PER_BOX = Number(env.HINDSIGHT_BENCH_RECEIVERS_PER_BOX ?? 10);
const RECEIVERS = Number(env.HINDSIGHT_BENCH_RECEIVERS_COUNT ?? 3);
const CHUNK_BYTES = Number(env.HINDSIGHT_BENCH_RECEIVERS_CHUNK_BYTES ?? 8192);
const PAD_BYTES = Number(env.HINDSIGHT_BENCH_RECEIVERS_PAD_BYTES ?? 20_000);
const KILL_AT = Number(env.HINDSIGHT_BENCH_RECEIVERS_KILL_AT ?? 0.4);
const DOWN_MS = Number(env.HINDSIGHT_BENCH_RECEIVERS_DOWN_MS ?? 5000);
const VICTIM = 2;
const RECEIPT_TIMEOUT_MS = 30_000;
const MAX_SENDS = 10;

export async function run({ root, log }) {
  const dist = (p) => import(path.join(root, 'daemon/dist', p));
  const { startForceKit } = await dist('devkit/force.js');
  const { ReceiverGroup, runReceiverCrash } = await dist('devkit/receivers.js');
  const { openForceDb } = await dist('force/database.js');
  const forceCli = path.join(root, 'daemon/dist/force/main.js');

  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-bench-receivers-'));
  const ids = Array.from({ length: BOXES }, (_, i) => `box-${String(i + 1).padStart(3, '0')}`);
  let kit;
  let group;
  try {
    kit = await startForceKit(dir, { devices: ids.map((id) => ({ id, store: `Store ${id}` })), receivers: RECEIVERS });
    group = new ReceiverGroup(kit, [process.execPath, forceCli, 'receive'], { HSFORCE_LOG__LEVEL: 'debug' });
    await group.startAll();
    log(`force kit: broker ${kit.broker.url}; ${RECEIVERS} receivers (pids ${group.runs.map((r) => r.process.pid).join(', ')}); ${BOXES} boxes x ${PER_BOX} envelopes`);
    const r = await runReceiverCrash({
      kit,
      receivers: group,
      boxes: ids,
      perBox: PER_BOX,
      chunkBytes: CHUNK_BYTES,
      padBytes: PAD_BYTES,
      workDir: path.join(dir, 'packages'),
      victim: VICTIM,
      killAtShare: KILL_AT,
      downMs: DOWN_MS,
      receiptTimeoutMs: RECEIPT_TIMEOUT_MS,
      maxSends: MAX_SENDS,
      quietMs: 3000,
      log,
    });
    const fdb = openForceDb(kit.forceDir);
    const chain = fdb.audit.verify();
    fdb.close();
    const chunks = r.chunksPerReceiver.reduce((a, b) => a + b, 0);
    const receipts = r.completeReceipts;
    const t = r.tally;
    const result = {
      settings: { receivers: RECEIVERS, boxes: BOXES, envelopes_per_box: PER_BOX, chunk_bytes: CHUNK_BYTES, pad_bytes: PAD_BYTES, killed: `receiver ${VICTIM} (kill -9) at ${KILL_AT} of envelopes stored, down ${DOWN_MS} ms`, receipt_timeout_ms: RECEIPT_TIMEOUT_MS },
      envelopes: r.envelopes,
      stored: t.stored,
      not_stored: t.notStored,
      duplicates: { incident_rows: t.duplicateIncidents, evidence_received_audit_rows: t.duplicateAudit },
      rows: { incidents: t.incidentRows, evidence_received_audit: t.receivedAuditRows, chunks_left: t.chunksLeft, rejections: t.rejections },
      receipts_per_envelope: {
        min: Math.min(...receipts),
        max: Math.max(...receipts),
        envelopes_with_more_than_one: receipts.filter((n) => n > 1).length,
        envelopes_with_none: receipts.filter((n) => n === 0).length,
      },
      whole_resends: r.wholeResends,
      kill: { stored_at_kill: r.storedAtKill, stored_at_restart: r.storedAtRestart },
      drain_s: round(r.drainMs / 1000, 1),
      chunks_per_receiver: r.chunksPerReceiver,
      chunk_share_per_receiver: r.chunksPerReceiver.map((n) => round(n / chunks, 3)),
      messages_per_run: r.messagesPerRun,
      envelopes_spanning_receivers: r.envelopesSpanningReceivers,
      audit_chain: { ok: chain.ok, rows: chain.count },
    };
    result.summary = {
      envelopes: r.envelopes,
      stored: t.stored,
      duplicates: t.duplicateIncidents + t.duplicateAudit,
      receipts_min: result.receipts_per_envelope.min,
      receipts_max: result.receipts_per_envelope.max,
      drain_s: result.drain_s,
      chunk_share: result.chunk_share_per_receiver,
      spanning: r.envelopesSpanningReceivers,
      audit_ok: chain.ok,
    };
    return result;
  } finally {
    await group?.stopAll().catch(() => undefined);
    await kit?.broker.stop().catch(() => undefined);
    if (env.HINDSIGHT_BENCH_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
    else {
      for (const [i, run] of (group?.runs ?? []).entries()) writeFileSync(path.join(dir, `receiver-${run.receiver}-run-${i}.log`), run.process.lines.join('\n') + '\n');
      writeFileSync(path.join(dir, 'broker.log'), kit?.broker.log ?? '');
      log(`kept ${dir} (receiver logs, broker.log)`);
    }
  }
}
