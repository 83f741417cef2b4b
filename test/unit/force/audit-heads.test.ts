import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../../daemon/src/audit/log.js';
import { generateKeyPair } from '../../../daemon/src/crypto/keys.js';
import { openDatabase } from '../../../daemon/src/db/db.js';
import { AuditHeadCheck } from '../../../daemon/src/force/audit-heads.js';
import { AuditHeadsRepo } from '../../../daemon/src/force/db/audit-heads.js';
import { loadKeySet, loadReceiptKey } from '../../../daemon/src/force/keys.js';
import { createLogger } from '../../../daemon/src/log/logger.js';
import { AuditHeads, signAuditHead } from '../../../daemon/src/uplink/audit-head.js';
import { rewriteAuditRow } from '../../helpers/audit-tamper.js';
import { forceWithBoxes } from '../../helpers/force-intake.js';
import { tempDir } from '../../helpers/paths.js';

const silent = createLogger({ level: 'fatal', destination: new Writable({ write: (_c, _e, done) => done() }) });

/**
 * The force checks each box's audit log through its signed heads alone: a log that grew is acknowledged,
 * one rewritten (and re-hashed, re-signed with the box's own key), truncated or forked raises an alarm
 * that stays; acknowledged rows may be pruned on the box, whose chain still verifies from the anchor.
 */
describe('audit heads: the force checks that each new head extends the acknowledged one', () => {
  const setup = () => {
    const force = forceWithBoxes('hs-heads-');
    const device = generateKeyPair('ed25519');
    force.registry.register('box-1', device.pk, force.clock.now());
    const file = path.join(tempDir(), 'box.db');
    const db = openDatabase(file);
    const audit = new AuditLog(db, force.clock);
    const keyset = loadKeySet(force.dir);
    const box = new AuditHeads({ db, audit, deviceId: 'box-1', keyset: () => keyset, now: () => force.clock.now() });
    const acks: string[] = [];
    const check = new AuditHeadCheck({ db: force.fdb.db, audit: force.fdb.audit, clock: force.clock, log: silent, receiptKey: loadReceiptKey(force.dir), sendAck: async (_d, p) => void acks.push(p) });
    const state = () => new AuditHeadsRepo(force.fdb.db).get('box-1');
    /** The box sends its next head; the force checks it; the box takes the acknowledgement, if any. */
    const exchange = async () => {
      const before = acks.length;
      await check.handleTopic('hindsight/v1', 'hindsight/v1/box-1/audit/head', Buffer.from(JSON.stringify(signAuditHead(box.next().head, device))));
      const ack = acks.length > before ? box.handleAck(Buffer.from(acks.at(-1)!)) : undefined;
      return { state: state(), ack };
    };
    const rows = (n: number) => {
      for (let i = 0; i < n; i++) audit.append({ actor: { type: 'system', id: 'test' }, action: 'test.row', detail: { i } });
    };
    return { force, db, file, audit, box, exchange, rows, state, device };
  };

  it('a baseline, then heads that grew are acknowledged; a backlog comes in pieces; pruning keeps the chain verifiable', async () => {
    const { rows, exchange, audit, box, force, db } = setup();
    rows(5);
    expect(await exchange()).toMatchObject({ state: { status: 'baseline', count: 5 }, ack: { ok: true, count: 5 } });
    rows(2500);
    expect(box.next()).toMatchObject({ more: true, head: { count: 2005, from: { count: 5 } } });
    expect(await exchange()).toMatchObject({ state: { status: 'extended', count: 2005 }, ack: { ok: true } });
    expect(await exchange()).toMatchObject({ state: { status: 'extended', count: 2505 } });
    // a head sent again (retained, after a reconnect) is acknowledged again, nothing changes
    expect((await exchange()).state).toMatchObject({ status: 'extended', count: 2505 });
    force.clock.advance(10 * 86_400_000);
    expect(audit.prune(2505, force.clock.now() - 86_400_000)).toBe(2505);
    expect(audit.verify()).toMatchObject({ ok: true, count: 2506 });
    rows(3);
    expect(await exchange()).toMatchObject({ state: { status: 'extended', count: 2509 } });
    // no row after the anchor can be deleted, pruning or not
    expect(() => db.prepare('DELETE FROM audit WHERE seq = 2507').run()).toThrow(/only rows behind the anchor the force acknowledged can be pruned/);
    expect(audit.verify()).toMatchObject({ ok: true, count: 2509 });
  });

  it('a row rewritten and the chain re-hashed (what root on the box could do) raises an alarm that stays', async () => {
    const { rows, exchange, db, state } = setup();
    rows(10);
    await exchange();
    rows(5);
    // root edits row 3 and re-hashes every row after it, past the append-only triggers
    rewriteAuditRow(db, 3, { i: 'nothing happened' });
    const r = await exchange();
    expect(r.state).toMatchObject({ status: 'alarm', count: 10 });
    expect(r.state!.alarm).toMatch(/^rewritten/);
    expect(r.ack).toBeUndefined();
    rows(1);
    expect((await exchange()).state!.status, 'it stays').toBe('alarm');
    expect(state()!.alarm).toMatch(/^rewritten/);
  });

  it('a truncated log, and a head that extends something the force never acknowledged, raise alarms', async () => {
    const a = setup();
    a.rows(10);
    await a.exchange();
    a.db.exec('DROP TRIGGER audit_no_delete');
    a.db.prepare('DELETE FROM audit WHERE seq > 6').run();
    expect((await a.exchange()).state).toMatchObject({ status: 'alarm', alarm: expect.stringMatching(/^truncated: the box's log has 6 rows, 10 were acknowledged/) });

    const b = setup();
    b.rows(4);
    await b.exchange();
    b.rows(4);
    const head = b.box.next().head;
    const forged = { ...head, from: { count: 6, head_hash: b.audit.hashAt(6)! }, digests: head.digests!.slice(2) };
    const acks: string[] = [];
    await new AuditHeadCheck({ db: b.force.fdb.db, audit: b.force.fdb.audit, clock: b.force.clock, log: silent, receiptKey: loadReceiptKey(b.force.dir), sendAck: async (_d, p) => void acks.push(p) }).handle('box-1', Buffer.from(JSON.stringify(signAuditHead(forged, b.device))));
    expect(b.state()).toMatchObject({ status: 'alarm', alarm: expect.stringMatching(/^forked/) });
    expect(acks).toEqual([]);
  });

  it('a head not signed by the box, or an acknowledgement not signed by the force, changes nothing', async () => {
    const { rows, exchange, box, state, force } = setup();
    rows(3);
    await exchange();
    rows(2);
    const stranger = generateKeyPair('ed25519');
    await new AuditHeadCheck({ db: force.fdb.db, audit: force.fdb.audit, clock: force.clock, log: silent, receiptKey: loadReceiptKey(force.dir), sendAck: async () => undefined }).handle('box-1', Buffer.from(JSON.stringify(signAuditHead(box.next().head, stranger))));
    expect(state()).toMatchObject({ status: 'baseline', count: 3 });
    const fake = { ack: { v: 1, kind: 'audit_head', device_id: 'box-1', count: 5, head_hash: 'a'.repeat(64), ts: 0, kid: stranger.kid }, sig: 'AAAA' };
    expect(box.handleAck(Buffer.from(JSON.stringify(fake)))).toMatchObject({ ok: false });
    expect(box.acked()).toEqual({ count: 3, head_hash: expect.any(String) });
  });
});
