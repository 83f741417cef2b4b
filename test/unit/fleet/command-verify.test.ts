import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../daemon/src/audit/log.js';
import { generateKeyPair, SIG_CONTEXT, signWith, type KeyPairFile } from '../../../daemon/src/crypto/keys.js';
import { signKeySet, type KeySetBody, type SignedKeySet } from '../../../daemon/src/crypto/keyset.js';
import { CommandVerifier, type CommandRejection } from '../../../daemon/src/fleet/command-verify.js';
import { DeviceTopics } from '../../../daemon/src/protocol/topics.js';
import { openDatabase, type Db } from '../../../daemon/src/db/db.js';
import { canonicalBytes } from '../../../daemon/src/util/canonical.js';
import { ManualClock } from '../../../daemon/src/util/clock.js';
import { tempDir } from '../../helpers/paths.js';

const NOW = Date.UTC(2026, 6, 1);
const DAY = 86_400_000;
const root = generateKeyPair('ed25519');
const admin = generateKeyPair('ed25519');
const operator = generateKeyPair('ed25519');
const lost = generateKeyPair('ed25519');
const stranger = generateKeyPair('ed25519');

function keyset(): SignedKeySet {
  const signer = (k: KeyPairFile, role: 'command-admin' | 'command-operator') => ({ kid: k.kid, pk: k.pk, role, not_before: NOW - DAY, not_after: NOW + DAY });
  const body: KeySetBody = { v: 1, schema: 'hindsight-keyset/1', seq: 1, issued_at: NOW, root_kid: root.kid, recipients: [], signers: [signer(admin, 'command-admin'), signer(operator, 'command-operator'), signer(lost, 'command-admin')], revoked: [lost.kid] };
  return signKeySet(body, root);
}

let n = 0;
function command(o: { key?: KeyPairFile; op?: string; seq?: number; device?: string; iat?: number; exp?: number; v?: number; cmdId?: string; args?: Record<string, unknown> } = {}): { cmd: Record<string, unknown>; kid: string; sig: string } {
  const key = o.key ?? admin;
  const iat = o.iat ?? NOW;
  const cmd = { v: o.v ?? 1, cmd_id: o.cmdId ?? `cmd-${++n}`, device_id: o.device ?? 'box-1', issuer_kid: key.kid, op: o.op ?? 'ping', args: o.args ?? {}, seq: o.seq ?? 1000 + n, iat, exp: o.exp ?? iat + 60_000 };
  return { kid: key.kid, cmd, sig: signWith(key, SIG_CONTEXT.command, canonicalBytes(cmd)) };
}

describe('signed command verification (every command case of SECURITY.md)', () => {
  let db: Db;
  let audit: AuditLog;
  let verifier: CommandVerifier;
  const clock = new ManualClock(NOW);
  const topics = new DeviceTopics('hindsight/v1', 'box-1');
  let effects = 0;

  const run = (c: unknown, responseTopic: string | undefined = topics.cmdResult()): CommandRejection | 'ok' => {
    const r = verifier.handle(Buffer.from(typeof c === 'string' ? c : JSON.stringify(c)), responseTopic, () => (effects += 1));
    return r.ok ? 'ok' : r.error.reason;
  };

  beforeAll(() => {
    db = openDatabase(path.join(tempDir(), 'box.db'));
    audit = new AuditLog(db, clock);
    const ks = keyset();
    verifier = new CommandVerifier(db, audit, () => ks, topics, clock);
  });

  it('accepts a valid command once; its effect, seq and audit row commit together', () => {
    const c = command({ seq: 10 });
    expect(run(c)).toBe('ok');
    expect(effects).toBe(1);
    expect(run(c)).toBe('replay');
    expect(run(command({ seq: 9 }))).toBe('old_seq');
    expect(run(command({ seq: 11, cmdId: c.cmd.cmd_id as string }))).toBe('duplicate_cmd_id');
    expect(effects).toBe(1);
    expect(audit.find({ action: 'command.accepted' })).toHaveLength(1);
  });

  it('a failing effect leaves no seq behind', () => {
    const c = command({ seq: 50 });
    const v = verifier.verify(Buffer.from(JSON.stringify(c)), topics.cmdResult());
    expect(() => verifier.execute(v, () => { throw new Error('disk full'); })).toThrow('disk full');
    expect(run(c)).toBe('ok');
  });

  it('rejects, with the reason, every bad command', () => {
    expect(run(command({ iat: NOW - 120_000, exp: NOW - 1 }))).toBe('expired');
    expect(run(command({ iat: NOW + 60_000, exp: NOW + 90_000 }))).toBe('future_iat');
    expect(run(command({ exp: NOW + 600_000 }))).toBe('lifetime');
    expect(run(command({ device: 'box-2' }))).toBe('wrong_device');
    const tampered = command({ op: 'ping' });
    tampered.cmd.op = 'wipe';
    expect(run(tampered)).toBe('bad_signature');
    expect(run(command({ key: stranger }))).toBe('unknown_kid');
    expect(run(command({ key: lost }))).toBe('revoked_kid');
    expect(run(command({ key: operator, op: 'restart' }))).toBe('forbidden_op');
    expect(run(command({ key: operator, op: 'set_key_set' }))).toBe('forbidden_op');
    // the shop's cameras, recording and incidents are the shop's: no such op exists
    for (const op of ['add_camera', 'remove_camera', 'cancel_incident', 'purge_buffer']) expect(run(command({ op }))).toBe('forbidden_op');
    expect(run(command({ key: operator, op: 'get_status' }))).toBe('ok');
    expect(run(command({ op: 'enable_live_recognition' }))).toBe('forbidden_op');
    expect(run(command({ op: 'add_watchlist' }))).toBe('forbidden_op');
    expect(run(command({ v: 2 }))).toBe('version');
    expect(run(command({ args: { blob: 'x'.repeat(17 * 1024) } }))).toBe('oversize');
    expect(run('{"kid": "0000000000000000"}')).toBe('schema');
    expect(run('not json')).toBe('schema');
    expect(run({ ...command(), extra: 1 })).toBe('schema');
    expect(run(command(), 'hindsight/v1/box-2/cmd/res')).toBe('bad_response_topic');
    expect(run(command(), 'hindsight/v1/box-1-evil/cmd/res')).toBe('bad_response_topic');
    // replies go to exactly cmd/res: not another topic of the box's own, and not nowhere
    expect(run(command(), 'hindsight/v1/box-1/state')).toBe('bad_response_topic');
    expect(run(command(), null as unknown as undefined)).toBe('bad_response_topic');
    const rejected = audit.find({ action: 'command.rejected' });
    expect(rejected.length).toBeGreaterThanOrEqual(24);
    expect(rejected.every((r) => r.result === 'denied')).toBe(true);
    expect(audit.verify().ok).toBe(true);
  });
});
