import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openForceDb } from '../../../daemon/src/force/database.js';
import { ReceiverGroup, runReceiverCrash } from '../../../daemon/src/devkit/receivers.js';
import { startForceKit, type ForceKit } from '../../helpers/evidence.js';
import { CLI, tempDir } from '../../helpers/paths.js';

const RECEIVERS = 3;
const BOXES = 20;
const PER_BOX = 5;

/**
 * Acceptance of the shared intake: three `receive` processes, each under its own broker identity from the
 * kit, take the evidence of many boxes through one shared subscription; envelopes are chunked small so
 * their chunks land on different receivers; one receiver is killed -9 mid-way and started again.
 */
describe('three force receivers, one killed -9 mid-way and started again', () => {
  let kit: ForceKit | undefined;
  let group: ReceiverGroup | undefined;
  afterAll(async () => {
    await group?.stopAll();
    await kit?.broker.stop();
  });

  it('store every envelope exactly once, receipt it, lose nothing, keep one audit chain', async () => {
    const dir = tempDir('hs-receivers-crash-');
    const ids = Array.from({ length: BOXES }, (_, i) => `box-${String(i + 1).padStart(2, '0')}`);
    kit = await startForceKit(dir, { devices: ids.map((id) => ({ id, store: `Store ${id}` })), receivers: RECEIVERS });
    group = new ReceiverGroup(kit, [process.execPath, CLI, 'force', 'receive'], { HSFORCE_LOG__LEVEL: 'debug' });
    await group.startAll();
    // each logs in under its own user (the broker takes the username as the client id)
    const users = group.runs.map((r) => r.process.lines.map((l) => /"user":"([^"]+)".*"msg":"receiving evidence"/.exec(l)?.[1]).find(Boolean));
    expect(users).toEqual(['svc.force', 'svc.force-2', 'svc.force-3']);

    const r = await runReceiverCrash({
      kit,
      receivers: group,
      boxes: ids,
      perBox: PER_BOX,
      chunkBytes: 8192,
      padBytes: 30_000,
      workDir: path.join(dir, 'packages'),
      victim: 2,
      killAtShare: 0.3,
      downMs: 3000,
      receiptTimeoutMs: 10_000,
      maxSends: 8,
      quietMs: 2000,
    });
    const n = BOXES * PER_BOX;
    // the kill came mid-way: some envelopes stored before it, some after
    expect(r.storedAtKill).toBeGreaterThan(0);
    expect(r.storedAtKill).toBeLessThan(n);
    expect(r.tally).toEqual({ envelopes: n, stored: n, notStored: [], incidentRows: n, duplicateIncidents: 0, receivedAuditRows: n, duplicateAudit: 0, chunksLeft: 0, rejections: 0 });
    // Every box got a `complete` receipt for each of its envelopes. The force answers a stored envelope sent
    // again (a resend, or a message the broker held for the killed receiver) with its receipt again, by
    // design (PROTOCOL.md): at least once per envelope, while the stored row is one.
    expect(r.completeReceipts).toHaveLength(n);
    expect(Math.min(...r.completeReceipts)).toBeGreaterThanOrEqual(1);
    // the chunks were spread: every receiver handled some, and some envelopes' chunks went to two or more
    for (const chunks of r.chunksPerReceiver) expect(chunks).toBeGreaterThan(0);
    expect(r.envelopesSpanningReceivers).toBeGreaterThan(0);
    console.log(
      `${n} envelopes: ${r.envelopesSpanningReceivers} spanned receivers; chunks per receiver ${r.chunksPerReceiver.join('/')}; stored at kill ${r.storedAtKill}, at restart ${r.storedAtRestart}; ` +
        `receipts per envelope max ${Math.max(...r.completeReceipts)}; whole resends ${r.wholeResends}; messages per run ${r.messagesPerRun.map((m) => `${m.receiver}:${m.messages}`).join(' ')}`,
    );
    // several writers, one hash chain
    const fdb = openForceDb(kit.forceDir);
    try {
      const v = fdb.audit.verify();
      expect(v.ok).toBe(true);
      expect(v.count).toBeGreaterThanOrEqual(n);
    } finally {
      fdb.close();
    }
  }, 240_000);
});
