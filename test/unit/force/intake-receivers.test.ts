import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeChunkMessage, sealEnvelope, type SealedEnvelope } from '../../../daemon/src/crypto/envelope.js';
import type { KeyPairFile } from '../../../daemon/src/crypto/keys.js';
import { validRecipients } from '../../../daemon/src/crypto/keyset.js';
import type { Db } from '../../../daemon/src/db/db.js';
import { buildPackage, packageInputFromFolder } from '../../../daemon/src/evidence/builder.js';
import { openForceDb, type ForceDb } from '../../../daemon/src/force/database.js';
import { ChunksRepo } from '../../../daemon/src/force/db/chunks.js';
import { EnvelopesRepo, OpeningTakenOver } from '../../../daemon/src/force/db/envelopes.js';
import type { EnvelopeIntake } from '../../../daemon/src/force/intake.js';
import { loadKeySet } from '../../../daemon/src/force/keys.js';
import { ManualClock } from '../../../daemon/src/util/clock.js';
import { makePackageFolder } from '../../helpers/evidence.js';
import { forceIntake, forceWithBox } from '../../helpers/force-intake.js';
import { tempDir } from '../../helpers/paths.js';

/**
 * Several receivers on one force database (a shared subscription hands each message to any of them): two
 * intakes on two connections to the same file, as two `receive` processes have. Where two processes would
 * interleave, the tests make the interleaving happen at the exact point that matters.
 */

const P = 'hindsight/v1';
const T0 = Date.UTC(2026, 5, 1);
const CAPS = { max_envelope_bytes: 64 * 1024 * 1024, max_chunks: 1000, reassembly_timeout_s: 600, max_pending_per_device: 8, missing_after_s: 5 };
/** When the sweep takes over an envelope left `opening`: max(60 s, 6 x missing_after_s). */
const STUCK_MS = 60_000;
/** Every envelope here carries evidence of one incident (a box sends an incident's evidence in several envelopes). */
const INCIDENT = 'inc-1';

/**
 * `db` whose next transaction (or, with `sql`, the first statement it prepares whose text matches) first
 * runs `between`: another receiver's work landing after this one read the database and before it writes.
 */
function interleaved(db: Db, between: () => void, sql?: RegExp): Db {
  let pending: (() => void) | undefined = between;
  const fire = (): void => {
    const h = pending;
    pending = undefined;
    h?.();
  };
  return new Proxy(db, {
    get(target, prop) {
      if (prop === 'transaction' && !sql) {
        return (fn: (...args: unknown[]) => unknown) => {
          const t = target.transaction(fn);
          const run = (...args: unknown[]): unknown => (fire(), t(...args));
          return Object.assign(run, { default: run, immediate: run, deferred: run, exclusive: run });
        };
      }
      if (prop === 'prepare' && sql) {
        return (text: string) => {
          if (sql.test(text)) fire();
          return target.prepare(text);
        };
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

describe('force intake with several receivers: each envelope stored once and receipted once', () => {
  let dir: string;
  let forceDir: string;
  let device: KeyPairFile;
  let plaintext: Buffer;
  let fdbA: ForceDb;
  let fdbB: ForceDb;
  let seq = 0;
  const clock = new ManualClock(T0);
  const receipts: { receiver: string; envelope: string; status: string }[] = [];

  const receiver = (name: string, fdb: ForceDb, db: Db = fdb.db): EnvelopeIntake =>
    forceIntake(forceDir, { ...fdb, db }, clock, CAPS, async (_device, payload) => {
      const r = (JSON.parse(payload) as { receipt: { envelope: string; status: string } }).receipt;
      receipts.push({ receiver: name, envelope: r.envelope, status: r.status });
    });

  const seal = (): Promise<SealedEnvelope> =>
    sealEnvelope({ plaintext, device, deviceId: 'box-1', incidentId: INCIDENT, msgSeq: ++seq, recipients: validRecipients(loadKeySet(forceDir).keyset, T0), clock: { synced: true, offset_ms: 0 }, now: clock.now(), chunkBytes: 4096 });
  const idOf = (e: SealedEnvelope): string => e.manifest.header.envelope_id;
  const manifest = (e: SealedEnvelope): [string, Buffer] => [`${P}/box-1/ev/${idOf(e)}/m`, Buffer.from(JSON.stringify(e.manifest))];
  const chunk = (e: SealedEnvelope, idx: number): [string, Buffer] => [`${P}/box-1/ev/${idOf(e)}/${idx}`, encodeChunkMessage(idOf(e), idx, e.chunks.length, e.chunks[idx]!)];

  /** What the force holds of an envelope: its state, incident rows, chunk rows left, rejections, complete receipts. */
  const held = (e: SealedEnvelope): { state: string | undefined; incidents: number; chunks: number; rejections: number; completes: number; folder: boolean } => {
    const id = idOf(e);
    const count = (sql: string): number => (fdbA.db.prepare(sql).get(id) as { n: number }).n;
    return {
      state: new EnvelopesRepo(fdbA.db).get(id)?.state,
      incidents: count('SELECT COUNT(*) AS n FROM incidents WHERE envelope_id = ?'),
      chunks: count('SELECT COUNT(*) AS n FROM chunks WHERE envelope_id = ?'),
      rejections: count('SELECT COUNT(*) AS n FROM rejections WHERE envelope_id = ?'),
      completes: receipts.filter((r) => r.envelope === id && r.status === 'complete').length,
      folder: existsSync(path.join(forceDir, 'store', 'box-1', e.manifest.header.incident_id, id, 'package-manifest.json')),
    };
  };
  const storedOnce = { state: 'stored', incidents: 1, chunks: 0, rejections: 0, completes: 1, folder: true };

  /** A receiver killed -9 right after it kept the last chunk and claimed the envelope for opening. */
  function leftOpening(e: SealedEnvelope): void {
    e.chunks.forEach((ct, idx) => new ChunksRepo(fdbA.db).add(idOf(e), idx, ct));
    expect(new EnvelopesRepo(fdbA.db).claimForOpening(idOf(e), clock.now(), 'killed-receiver')).toBe(true);
  }

  beforeAll(async () => {
    dir = tempDir('hs-intake-receivers-');
    forceDir = path.join(dir, 'force');
    ({ fdb: fdbA, device } = forceWithBox(forceDir, clock, T0));
    fdbB = openForceDb(forceDir, clock);
    const pkg = await makePackageFolder(path.join(dir, 'pkg'), { subjects: 1, padBytes: 12_000 });
    plaintext = buildPackage(packageInputFromFolder(pkg.dir, { incidentId: INCIDENT, deviceId: 'box-1', store: 'Shop', window: { start: T0 - 90_000, end: T0 }, embeddingModel: 'm', models: [], tools: {}, clock: { synced: true, offset_ms: 0, source: 'unknown' }, now: T0 }), device).plaintext;
  });

  it('chunks spread over two receivers: the one that gets the last chunk completes the envelope from the database', async () => {
    const a = receiver('a', fdbA);
    const b = receiver('b', fdbB);
    const e = await seal();
    expect(e.chunks.length).toBeGreaterThanOrEqual(3);
    expect((await a.handle(...manifest(e))).kind).toBe('accepted');
    const outcomes = [];
    for (let i = 0; i < e.chunks.length; i++) outcomes.push((await (i % 2 ? b : a).handle(...chunk(e, i))).kind);
    expect(outcomes.at(-1)).toBe('stored');
    expect(outcomes.slice(0, -1).every((k) => k === 'chunk')).toBe(true);
    expect(held(e)).toEqual(storedOnce);
  });

  it('the last chunk handed to both receivers at once (a QoS 1 resend): both count every chunk, one claim wins, it alone stores and receipts', async () => {
    const a = receiver('a', fdbA);
    const e = await seal();
    await a.handle(...manifest(e));
    for (let i = 0; i < e.chunks.length - 1; i++) await a.handle(...chunk(e, i));
    const last = chunk(e, e.chunks.length - 1);
    let first: Promise<{ kind: string }> | undefined;
    // receiver A keeps the last chunk and claims the envelope after B counted every chunk, before B's claim
    const b = receiver('b', fdbB, interleaved(fdbB.db, () => void (first = a.handle(...last)), /SET state = 'opening'/));
    expect((await b.handle(...last)).kind).toBe('chunk');
    expect((await first!).kind).toBe('stored');
    expect(held(e)).toEqual(storedOnce);
  });

  it('a resent manifest reaching a second receiver while the first takes it is a duplicate, not a replay of its own msg_seq', async () => {
    const a = receiver('a', fdbA);
    const e = await seal();
    let first: Promise<unknown> | undefined;
    // receiver A takes the manifest after B read the database and before B's transaction
    const b = receiver('b', fdbB, interleaved(fdbB.db, () => void (first = a.handle(...manifest(e)))));
    expect(await b.handle(...manifest(e))).toEqual({ kind: 'duplicate' });
    expect(await first).toEqual({ kind: 'accepted' });
    for (let i = 0; i < e.chunks.length; i++) await (i % 2 ? a : b).handle(...chunk(e, i));
    expect(held(e)).toEqual(storedOnce);
    expect(receipts.filter((r) => r.envelope === idOf(e) && r.status !== 'complete')).toEqual([]);
  });

  it('two receivers sweeping envelopes left opening by a killed receiver: each is taken over by one of them only', async () => {
    const a = receiver('a', fdbA);
    const b = receiver('b', fdbB);
    const envelopes = [await seal(), await seal(), await seal()];
    for (const e of envelopes) {
      await a.handle(...manifest(e));
      leftOpening(e);
    }
    clock.advance(STUCK_MS + 1000);
    // both read the stuck envelopes at once; each opens one while the other reads them again
    await Promise.all([a.sweep(), b.sweep()]);
    for (const e of envelopes) expect(held(e)).toEqual(storedOnce);
    clock.set(T0);
  });

  it("resends of the manifest do not hide a killed receiver's claim from the sweep that takes it over", async () => {
    const a = receiver('a', fdbA);
    const b = receiver('b', fdbB);
    const e = await seal();
    await a.handle(...manifest(e));
    leftOpening(e);
    // the box, without a receipt, sends the envelope again and again
    for (const at of [20_000, 40_000, 55_000]) {
      clock.set(T0 + at);
      expect((await b.handle(...manifest(e))).kind).toBe('duplicate');
      expect((await b.handle(...chunk(e, 0))).kind).toBe('ignored');
    }
    clock.set(T0 + STUCK_MS + 1000);
    await b.sweep();
    expect(held(e)).toEqual(storedOnce);
    clock.set(T0);
  });

  it('a receiver killed after keeping the last chunk, before claiming it: another one completes it at its sweep', async () => {
    const a = receiver('a', fdbA);
    const b = receiver('b', fdbB);
    const e = await seal();
    await a.handle(...manifest(e));
    e.chunks.forEach((ct, idx) => new ChunksRepo(fdbA.db).add(idOf(e), idx, ct));
    clock.advance(CAPS.missing_after_s * 1000 + 1000);
    await b.sweep();
    expect(held(e)).toEqual(storedOnce);
    clock.set(T0);
  });

  it("a sweep's expiry of an envelope another receiver claims at that moment leaves it to that receiver", async () => {
    const b = receiver('b', fdbB);
    const e = await seal();
    await b.handle(...manifest(e));
    for (let i = 0; i < e.chunks.length - 1; i++) await b.handle(...chunk(e, i));
    let completing: Promise<unknown> | undefined;
    // receiver B gets the last chunk after A's sweep read the expired envelope and before A rejects it
    const a = receiver('a', fdbA, interleaved(fdbA.db, () => void (completing = b.handle(...chunk(e, e.chunks.length - 1)))));
    clock.advance(CAPS.reassembly_timeout_s * 1000 + 1000);
    await a.sweep();
    expect(await completing).toMatchObject({ kind: 'stored' });
    expect(held(e)).toEqual(storedOnce);
    clock.set(T0);
  });

  it('a chunk reaching a receiver as another stores the envelope is not kept', async () => {
    const a = receiver('a', fdbA);
    const e = await seal();
    await a.handle(...manifest(e));
    for (let i = 0; i < e.chunks.length; i++) await a.handle(...chunk(e, i));
    expect(new ChunksRepo(fdbB.db).add(idOf(e), 0, e.chunks[0]!)).toBe(false);
    expect(held(e)).toEqual(storedOnce);
  });

  it('an opening that only looked stuck (its receiver frozen past the quiet period) and the sweep that took it over: one stores, the other keeps nothing, the folder stays whole', async () => {
    const b = receiver('b', fdbB);
    const e = await seal();
    const id = idOf(e);
    let sweeping: Promise<void> | undefined;
    // receiver A claims the envelope and reads its chunks; then, before its sign of life, a minute passes
    // (a frozen process) and B's sweep takes the opening over while A goes on
    const a = receiver('a', fdbA, interleaved(fdbA.db, () => {
      clock.advance(STUCK_MS + 1000);
      sweeping = b.sweep();
    }, /SELECT data FROM chunks/));
    await a.handle(...manifest(e));
    for (let i = 0; i < e.chunks.length - 1; i++) await a.handle(...chunk(e, i));
    const last = await a.handle(...chunk(e, e.chunks.length - 1));
    await sweeping;
    expect(sweeping).toBeDefined();
    // B holds the envelope since its take-over, so A's attempt stored nothing
    expect(last).toEqual({ kind: 'duplicate' });
    expect(held(e)).toEqual(storedOnce);
    // every file the rows name is there, and no attempt left a temporary folder behind
    const files = fdbA.db.prepare('SELECT path FROM files WHERE envelope_id = ?').all(id) as { path: string }[];
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(existsSync(f.path), f.path).toBe(true);
    expect(readdirSync(path.join(forceDir, 'store', 'box-1', INCIDENT)).filter((n) => n.startsWith(id) && n !== id)).toEqual([]);
    clock.set(T0);
  });

  it("a live opener's sign of life keeps every sweep away; once it has been taken over, it can neither store nor reject the envelope", async () => {
    const a = receiver('a', fdbA);
    const e = await seal();
    const id = idOf(e);
    await a.handle(...manifest(e));
    const repo = new EnvelopesRepo(fdbB.db);
    leftOpening(e); // claimed as 'killed-receiver'
    clock.advance(50_000);
    expect(new EnvelopesRepo(fdbA.db).stillOpening(id, 'killed-receiver', clock.now())).toBe(true);
    clock.advance(20_000); // 70 s since the claim, 20 s since its last sign of life
    expect(repo.takeOverOpening(id, clock.now() - STUCK_MS, clock.now(), 'sweeper')).toBe(false);
    clock.advance(STUCK_MS);
    expect(repo.takeOverOpening(id, clock.now() - STUCK_MS, clock.now(), 'sweeper')).toBe(true);
    // the old attempt has lost it: no sign of life, no store, no rejection, no return to receiving
    const old = new EnvelopesRepo(fdbA.db);
    expect(old.stillOpening(id, 'killed-receiver', clock.now())).toBe(false);
    expect(() => old.setStored(id, clock.now(), 'killed-receiver')).toThrow(OpeningTakenOver);
    expect(old.setRejected(id, 'store_failed', { opener: 'killed-receiver' })).toBe(false);
    expect(old.setReceiving(id, clock.now(), 'killed-receiver')).toBe(false);
    expect(old.get(id)?.state).toBe('opening');
    // the sweeper never finished either (it gave no sign of life since): the next sweep takes it and stores it
    clock.advance(STUCK_MS + 1000);
    await receiver('b', fdbB).sweep();
    expect(held(e)).toEqual(storedOnce);
    clock.set(T0);
  });
});
