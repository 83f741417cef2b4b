import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../../daemon/src/audit/log.js';
import { readKeyFile } from '../../../daemon/src/crypto/keys.js';
import { openDatabase } from '../../../daemon/src/db/db.js';
import { CommandVerifier } from '../../../daemon/src/fleet/command-verify.js';
import { CommandDispatch, CommandIssuer } from '../../../daemon/src/force/commands.js';
import { CommandsRepo } from '../../../daemon/src/force/db/commands.js';
import { loadKeySet } from '../../../daemon/src/force/keys.js';
import { forcePaths } from '../../../daemon/src/force/paths.js';
import { createLogger } from '../../../daemon/src/log/logger.js';
import { DeviceTopics } from '../../../daemon/src/protocol/topics.js';
import { forceWithBoxes } from '../../helpers/force-intake.js';
import { tempDir } from '../../helpers/paths.js';

const ADMIN = { type: 'cli' as const, id: 'admin' };

describe('force commands: signed, sequenced, queued once, replies taken only from their box', () => {
  const setup = () => {
    const { dir, fdb, clock } = forceWithBoxes('hs-commands-unit-', 'box-3');
    const issuer = new CommandIssuer({ db: fdb.db, audit: fdb.audit, key: readKeyFile(forcePaths(dir).commandKey, 'ed25519'), clock });
    const sent: { topic: string; payload: string; properties: { responseTopic: string; correlationData: Buffer } }[] = [];
    const log = createLogger({ level: 'fatal', destination: new Writable({ write: (_c, _e, done) => done() }) });
    let failPublish = false;
    const dispatch = new CommandDispatch({
      db: fdb.db,
      audit: fdb.audit,
      prefix: 'hindsight/v1',
      clock,
      log,
      publish: async (topic, payload, properties) => {
        if (failPublish) throw new Error('not connected to the broker');
        sent.push({ topic, payload, properties });
      },
    });
    return { dir, fdb, clock, issuer, dispatch, sent, repo: new CommandsRepo(fdb.db), failPublish: (v: boolean) => (failPublish = v) };
  };

  it('a command the force signs is one the box accepts; sequences rise and are at least the time in ms', () => {
    const { dir, issuer, clock } = setup();
    const a = issuer.issue({ deviceId: 'box-1', op: 'ping', args: {}, ttlS: 60 }, ADMIN);
    const b = issuer.issue({ deviceId: 'box-1', op: 'get_status', args: {}, ttlS: 60 }, ADMIN);
    expect(a.seq).toBeGreaterThanOrEqual(clock.now());
    expect(b.seq).toBe(a.seq + 1);
    expect(a.status).toBe('queued');
    // the box's own verifier, with the force's key set installed
    const boxDb = openDatabase(path.join(tempDir(), 'box.db'));
    const keyset = loadKeySet(dir);
    const topics = new DeviceTopics('hindsight/v1', 'box-1');
    const verifier = new CommandVerifier(boxDb, new AuditLog(boxDb, clock), () => keyset, topics, clock);
    for (const c of [a, b]) expect(verifier.handle(Buffer.from(c.signed), topics.cmdResult(), () => 'done')).toEqual({ ok: true, value: 'done' });
    // a force database restored from an older backup (its counter behind) still issues above what boxes saw
    clock.advance(1000);
    const c = issuer.issue({ deviceId: 'box-1', op: 'ping', args: {}, ttlS: 60 }, ADMIN);
    expect(c.seq).toBeGreaterThan(b.seq);
  });

  it('refuses a box it does not know, a revoked box, an op argument it cannot sign and a lifetime the box would refuse', () => {
    const { issuer, repo } = setup();
    expect(() => issuer.issue({ deviceId: 'box-9', op: 'ping', args: {}, ttlS: 60 }, ADMIN)).toThrow(/not enrolled/);
    expect(() => issuer.issue({ deviceId: 'box-3', op: 'ping', args: {}, ttlS: 60 }, ADMIN)).toThrow(/revoked/);
    expect(() => issuer.issue({ deviceId: 'box-1', op: 'Wipe Now', args: {}, ttlS: 60 }, ADMIN)).toThrow();
    expect(() => issuer.issue({ deviceId: 'box-1', op: 'ping', args: {}, ttlS: 600 }, ADMIN)).toThrow(/--ttl must be 5 to 300/);
    expect(repo.list(undefined, 10)).toEqual([]);
  });

  it('sends each queued command once with cmd/res and its id as correlation; a failed publish is sent again; unanswered ones expire', async () => {
    const { issuer, dispatch, sent, repo, clock, failPublish } = setup();
    const a = issuer.issue({ deviceId: 'box-1', op: 'ping', args: {}, ttlS: 30 }, ADMIN);
    failPublish(true);
    await dispatch.sendDue();
    expect(repo.get(a.cmdId)!.status).toBe('queued');
    failPublish(false);
    await dispatch.sendDue();
    await dispatch.sendDue();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.topic).toBe('hindsight/v1/box-1/cmd');
    expect(sent[0]!.properties.responseTopic).toBe('hindsight/v1/box-1/cmd/res');
    expect(sent[0]!.properties.correlationData.toString()).toBe(a.cmdId);
    expect(repo.get(a.cmdId)!.status).toBe('sent');
    clock.advance(31_000);
    await dispatch.sendDue();
    expect(repo.get(a.cmdId)).toMatchObject({ status: 'expired', error: 'no reply before it expired' });
  });

  it('takes a reply only from the box the command was for, with matching correlation; malformed replies are dropped', async () => {
    const { issuer, dispatch, repo, fdb } = setup();
    const a = issuer.issue({ deviceId: 'box-1', op: 'ping', args: {}, ttlS: 30 }, ADMIN);
    await dispatch.sendDue();
    const reply = (status: string, extra: Record<string, unknown> = {}) => Buffer.from(JSON.stringify({ cmd_id: a.cmdId, status, ...extra }));
    // box-2 answering for box-1's command changes nothing
    expect(dispatch.handle('hindsight/v1/box-2/cmd/res', reply('ok', { data: { pong: true } }), {})).toBe(true);
    expect(repo.get(a.cmdId)!.status).toBe('sent');
    expect(dispatch.handle('hindsight/v1/box-1/cmd/res', reply('ok'), { correlationData: Buffer.from('other') })).toBe(true);
    expect(dispatch.handle('hindsight/v1/box-1/cmd/res', Buffer.from('{"cmd_id": 5}'), {})).toBe(true);
    expect(repo.get(a.cmdId)!.status).toBe('sent');
    expect(dispatch.handle('hindsight/v1/box-1/state', reply('ok'), {})).toBe(false);
    dispatch.handle('hindsight/v1/box-1/cmd/res', reply('ok', { data: { pong: true } }), { correlationData: Buffer.from(a.cmdId) });
    expect(repo.get(a.cmdId)).toMatchObject({ status: 'done', reply: { pong: true } });
    // a duplicate (QoS 1) changes nothing more
    dispatch.handle('hindsight/v1/box-1/cmd/res', reply('error', { error: 'replay: seen' }), { correlationData: Buffer.from(a.cmdId) });
    expect(repo.get(a.cmdId)!.status).toBe('done');
    expect(fdb.audit.find({ action: 'fleet.command_replied' })).toHaveLength(1);
    expect(fdb.audit.find({ action: 'fleet.command_issued' })).toHaveLength(1);
  });
});
