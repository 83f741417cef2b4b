import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../daemon/src/audit/log.js';
import { generateKeyPair, SIG_CONTEXT, signWith, type KeyPairFile } from '../../../daemon/src/crypto/keys.js';
import { signKeySet, type KeySetBody, type SignedKeySet } from '../../../daemon/src/crypto/keyset.js';
import { CommandVerifier, NONCE_TTL_MS } from '../../../daemon/src/fleet/command-verify.js';
import { FleetCommands, type CommandHost } from '../../../daemon/src/fleet/commands.js';
import { openDatabase, type Db } from '../../../daemon/src/db/db.js';
import { DeviceTopics } from '../../../daemon/src/protocol/topics.js';
import { canonicalBytes } from '../../../daemon/src/util/canonical.js';
import { ManualClock } from '../../../daemon/src/util/clock.js';
import { tempDir } from '../../helpers/paths.js';

/**
 * High-risk commands (set_key_set, wipe) and the box's single-use nonces, on the real verifier and the
 * real FleetCommands over a real database. The box's wall clock is a day behind the force's and not
 * synchronised: a command the force's clock saw expire a day ago looks valid to it, and only the nonce
 * (aged on the monotonic clock) refuses it.
 */

const FORCE_NOW = Date.UTC(2026, 6, 1, 12);
const DAY = 86_400_000;
const root = generateKeyPair('ed25519');
const admin = generateKeyPair('ed25519');
const operator = generateKeyPair('ed25519');

function keyset(): SignedKeySet {
  const signer = (k: KeyPairFile, role: 'command-admin' | 'command-operator') => ({ kid: k.kid, pk: k.pk, role, not_before: FORCE_NOW - 30 * DAY, not_after: FORCE_NOW + 30 * DAY });
  const body: KeySetBody = { v: 1, schema: 'hindsight-keyset/1', seq: 1, issued_at: FORCE_NOW - 30 * DAY, root_kid: root.kid, recipients: [], signers: [signer(admin, 'command-admin'), signer(operator, 'command-operator')], revoked: [] };
  return signKeySet(body, root);
}

let n = 0;
function command(o: { key?: KeyPairFile; op: string; iat: number; exp?: number; args?: Record<string, unknown> }): Buffer {
  const key = o.key ?? admin;
  n += 1;
  const cmd = { v: 1, cmd_id: `n-${n}`, device_id: 'box-1', issuer_kid: key.kid, op: o.op, args: o.args ?? {}, seq: 1000 + n, iat: o.iat, exp: o.exp ?? o.iat + 120_000 };
  return Buffer.from(JSON.stringify({ kid: key.kid, cmd, sig: signWith(key, SIG_CONTEXT.command, canonicalBytes(cmd)) }));
}

describe('high-risk commands need a fresh nonce while the clock is not synchronised', () => {
  const topics = new DeviceTopics('hindsight/v1', 'box-1');
  const ks = keyset();
  let db: Db;
  let audit: AuditLog;
  let clock: ManualClock;
  let mono: number;
  let synced: boolean;
  let wipes: string[];
  let restarts: string[];

  const host: CommandHost = {
    status: async () => ({}),
    config: () => ({}),
    installKeySet: () => ({ seq: 2, recipients: [] }),
    resendIncident: () => ({ envelopes: 0 }),
    revokeSessions: () => 0,
    restart: (reason) => void restarts.push(reason),
    logs: () => ({ lines: [], truncated: false }),
    markWipe: (w) => ({ marked: w.cmdId }),
    wipe: (reason) => void wipes.push(reason),
    // not asked for by these tests
    setConfig: () => {
      throw new Error('not used here');
    },
    holdIncident: () => {
      throw new Error('not used here');
    },
    planMasters: () => {
      throw new Error('not used here');
    },
    sendMasters: async () => {
      throw new Error('not used here');
    },
  };
  const fleet = (bootId = 'boot-1', h = host): FleetCommands =>
    new FleetCommands(new CommandVerifier(db, audit, () => ks, topics, clock, { clockSynced: () => synced, bootId, monotonic: () => mono }), h, () => clock.now());
  let commands: FleetCommands;

  /** Send one command; `ok` with its data, or the refusal's text. */
  const send = async (c: Buffer, via = commands) => {
    const r = await via.handle(c, topics.cmdResult(), undefined);
    r.after?.();
    return r.reply.status === 'ok' ? { ok: true as const, data: r.reply.data as Record<string, unknown> } : { ok: false as const, error: r.reply.error! };
  };
  const nonce = async (): Promise<string> => {
    const r = await send(command({ key: operator, op: 'get_nonce', iat: clock.now() }));
    expect(r.ok).toBe(true);
    if (!r.ok) throw new Error(r.error);
    return String(r.data.nonce);
  };

  beforeEach(() => {
    db = openDatabase(path.join(tempDir(), 'box.db'));
    // the box's clock: a day behind the force's, and nobody vouches for it
    clock = new ManualClock(FORCE_NOW - DAY);
    audit = new AuditLog(db, clock);
    mono = 1_000;
    synced = false;
    wipes = [];
    restarts = [];
    commands = fleet();
  });

  it('with the clock a day behind, a high-risk command replayed after its expiry is refused', async () => {
    // signed a day ago by the force: expired by the force's clock, "valid" by this box's
    const old = { op: 'wipe', iat: FORCE_NOW - DAY - 10_000, exp: FORCE_NOW - DAY + 110_000, args: { reason: 'stolen' } };
    expect(old.exp).toBeLessThan(FORCE_NOW);
    expect(old.exp).toBeGreaterThan(clock.now());
    const r = await send(command(old));
    expect(r).toMatchObject({ ok: false });
    expect((r as { error: string }).error).toMatch(/^nonce: wipe needs a fresh nonce from this box while its clock is not synchronised/);
    expect(wipes).toEqual([]);

    // it carried a nonce the box gave out, but the nonce is older than 300 s on the box's monotonic
    // clock, even though the wall clock was set back so that the command's exp still looks valid
    const got = await nonce();
    mono += NONCE_TTL_MS + 1_000;
    clock.set(FORCE_NOW - DAY);
    const stale = await send(command({ ...old, args: { reason: 'stolen', nonce: got } }));
    expect((stale as { error: string }).error).toMatch(/^nonce: the nonce expired 1 s ago/);
    expect(wipes).toEqual([]);

    // a fresh nonce works, once
    const fresh = await nonce();
    const ok = await send(command({ op: 'wipe', iat: clock.now(), args: { reason: 'stolen', nonce: fresh } }));
    expect(ok).toEqual({ ok: true, data: { wiping: true, marked: expect.any(String) } });
    expect(wipes).toHaveLength(1);
    const again = await send(command({ op: 'wipe', iat: clock.now(), args: { reason: 'stolen', nonce: fresh } }));
    expect((again as { error: string }).error).toMatch(/^nonce: the nonce was already used \(by command n-\d+\)/);
    expect(wipes).toHaveLength(1);

    // every refusal is audited with its reason
    const refused = audit.find({ action: 'command.rejected' }).filter((a) => a.detail.reason === 'nonce');
    expect(refused).toHaveLength(3);
    expect(audit.verify().ok).toBe(true);
  });

  it('set_key_set too; unknown, malformed and other-process nonces are refused; a refused effect leaves the nonce unused', async () => {
    const keysetArgs = { keyset: { any: 1 } };
    expect((await send(command({ op: 'set_key_set', iat: clock.now(), args: keysetArgs }))).ok).toBe(false);
    expect(await send(command({ op: 'set_key_set', iat: clock.now(), args: { ...keysetArgs, nonce: 'A'.repeat(22) } }))).toMatchObject({ ok: false, error: expect.stringMatching(/^nonce: the nonce is unknown to this box/) });
    expect(await send(command({ op: 'set_key_set', iat: clock.now(), args: { ...keysetArgs, nonce: 'short' } }))).toMatchObject({ ok: false, error: expect.stringMatching(/^nonce: args\.nonce is not a nonce of this box/) });

    // the effect fails: nothing of the command stays, the nonce included
    const got = await nonce();
    const withBroken = fleet('boot-1', { ...host, installKeySet: () => { throw new Error('the key set does not verify'); } });
    expect(await send(command({ op: 'set_key_set', iat: clock.now(), args: { ...keysetArgs, nonce: got } }), withBroken)).toMatchObject({ ok: false, error: 'failed: the key set does not verify' });
    expect(await send(command({ op: 'set_key_set', iat: clock.now(), args: { ...keysetArgs, nonce: got } }))).toMatchObject({ ok: true, data: { seq: 2 } });

    // a nonce given out before the daemon restarted is void (its monotonic clock started again)
    const before = await nonce();
    const restarted = fleet('boot-2');
    expect(await send(command({ op: 'set_key_set', iat: clock.now(), args: { ...keysetArgs, nonce: before } }), restarted)).toMatchObject({ ok: false, error: expect.stringMatching(/^nonce: the nonce was given out before the box's daemon restarted/) });
  });

  it('with a synchronised clock the nonce is optional, but checked when given', async () => {
    synced = true;
    expect(await send(command({ op: 'set_key_set', iat: clock.now(), args: { keyset: {} } }))).toMatchObject({ ok: true });
    expect(await send(command({ op: 'set_key_set', iat: clock.now(), args: { keyset: {}, nonce: 'B'.repeat(22) } }))).toMatchObject({ ok: false, error: expect.stringMatching(/^nonce: /) });
    // ops that are not high-risk never need one
    synced = false;
    expect(await send(command({ op: 'restart', iat: clock.now() }))).toMatchObject({ ok: true });
  });

  it('get_nonce is for operator and admin keys; wipe is for admin keys only and needs a reason', async () => {
    const fromAdmin = await send(command({ op: 'get_nonce', iat: clock.now() }));
    expect(fromAdmin).toMatchObject({ ok: true, data: { nonce: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/), expires_in_s: 300, box_time: clock.now() } });
    const got = await nonce();
    expect(await send(command({ key: operator, op: 'wipe', iat: clock.now(), args: { reason: 'x', nonce: got } }))).toMatchObject({ ok: false, error: expect.stringMatching(/^forbidden_op:/) });
    expect(await send(command({ op: 'wipe', iat: clock.now(), args: { nonce: got } }))).toMatchObject({ ok: false, error: expect.stringMatching(/^bad_args:/) });
    expect(await send(command({ op: 'get_nonce', iat: clock.now(), args: { x: 1 } }))).toMatchObject({ ok: false, error: expect.stringMatching(/^bad_args:/) });
    // the refused commands did not use the nonce up
    expect(await send(command({ op: 'wipe', iat: clock.now(), args: { reason: 'stolen from the shop', nonce: got } }))).toMatchObject({ ok: true });
  });

  it('nonces do not pile up: at most 100 unused are kept, the oldest go', async () => {
    const first = await nonce();
    for (let i = 0; i < 100; i += 1) {
      mono += 1;
      await nonce();
    }
    expect(await send(command({ op: 'wipe', iat: clock.now(), args: { reason: 'r', nonce: first } }))).toMatchObject({ ok: false, error: expect.stringMatching(/unknown to this box/) });
  });
});
