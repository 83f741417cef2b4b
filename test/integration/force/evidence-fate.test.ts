import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKeySet } from '../../../daemon/src/force/keys.js';
import { openForceDb } from '../../../daemon/src/force/database.js';
import { runCli } from '../../helpers/cli.js';
import { startChain, type Chain } from '../../helpers/chain.js';
import { getIncident, readDb, waitForFootage, waitForState } from '../../helpers/incidents.js';
import { makeTestVideo } from '../../helpers/media.js';
import { tempDir } from '../../helpers/paths.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * What becomes of a box's envelopes at the force, over the real broker.
 *
 * Dead envelopes: the force refuses for good an envelope sealed to a recipient key it
 * has revoked, and says so with a signed `rejected` receipt; the box stops sending it, the incident fails
 * with the force's reason for a person to see. Once the new key set reaches the box (set_key_set), a retry
 * seals the incident anew, to the new key only, and it is delivered.
 *
 * Master clips: `upload_masters` seals each of the incident's master clips to the force, one envelope per
 * clip; the force keeps each only when its SHA-256 is one of the clips of the incident's evidence manifest.
 *
 * Deletion receipts: what the box deletes (here the plaintext working files of delivered evidence) reaches
 * the force as the box's own audit rows, signed and sealed like evidence, each row once.
 */
describe('the fate of envelopes: dead ones end, master clips come when asked', () => {
  let delivered = '';
  let dir: string;
  let chain: Chain;
  const force = (args: string[]) => runCli(['force', ...args]);

  beforeAll(async () => {
    dir = tempDir('hs-dead-');
    const video = await makeTestVideo(path.join(dir, 'cam.ts'), { seconds: 60, width: 320, height: 240, fps: 10 });
    // audit heads, and with them the deletion receipts, every 5 s
    chain = await startChain(dir, video, { uplink: { audit_head_interval_s: 5 } });
  }, 120_000);
  afterAll(async () => {
    await chain?.stop();
  });

  it('sealed to a revoked recipient key: refused with a signed rejected receipt, the incident fails with the reason; after set_key_set a retry is delivered to the new key', async () => {
    const oldKid = loadKeySet(chain.kit.forceDir).keyset.recipients[0]!.kid;
    expect((await force(['rotate', '--dir', chain.kit.forceDir])).code).toBe(0);
    const revoked = await force(['revoke-key', '--dir', chain.kit.forceDir, '--kid', oldKid, '--reason', 'key compromised (test)']);
    expect(revoked.code, revoked.stderr).toBe(0);
    const newKids = loadKeySet(chain.kit.forceDir).keyset.recipients.map((r) => r.kid);
    expect(newKids).not.toContain(oldKid);

    // the box has not heard of the revocation yet: it seals to the old key
    await waitForFootage(chain.stateDir, ['till2'], 20);
    const logged = await runCli(['incident', 'log', '--config', chain.boxConfig, '--json', '--at', new Date(Date.now() - 4000).toISOString(), '--before', '8', '--after', '2', '--camera', 'till2', '--reason', 'theft', '--justification', 'dead envelope test']);
    expect(logged.code, logged.stderr).toBe(0);
    const id = (JSON.parse(logged.stdout) as { id: string }).id;
    const failed = await waitForState(chain.stateDir, id, ['failed', 'delivered'], 180_000);
    expect(failed).toMatchObject({ state: 'failed', failureCode: 'force_rejected', wait: { kind: 'person' } });
    expect(failed.failure).toMatch(/^the force refused the evidence: revoked_key: sealed at .* to revoked key\(s\) /);
    const shown = await runCli(['incident', 'show', id, '--config', chain.boxConfig]);
    expect(shown.stdout).toMatch(/revoked_key/);

    // the box sends it no more: the envelope is rejected, its attempts stay where they were
    const outbox = async () => JSON.parse((await runCli(['uplink', 'status', '--json', '--config', chain.boxConfig])).stdout) as { recent: { incident_id: string; kind: string; state: string; attempts: number }[] };
    const ofIncident = (o: Awaited<ReturnType<typeof outbox>>) => o.recent.filter((e) => e.incident_id === id);
    const dead = ofIncident(await outbox());
    expect(dead.map((e) => e.state)).toEqual(['rejected']);
    await new Promise((r) => setTimeout(r, 8000)); // longer than the receipt timeout (5 s) and retry backoff
    expect(ofIncident(await outbox())).toEqual(dead);

    // the force kept one rejection row per arrival of the manifest (one: the box did not resend), nothing stored
    const fdb = openForceDb(chain.kit.forceDir);
    try {
      const rows = fdb.db.prepare("SELECT reason FROM rejections WHERE device_id = 'box-1'").all() as { reason: string }[];
      expect(rows.map((r) => r.reason)).toEqual(['revoked_key']);
      expect(fdb.db.prepare('SELECT COUNT(*) AS n FROM incidents WHERE incident_id = ?').get(id)).toEqual({ n: 0 });
    } finally {
      fdb.close();
    }

    // the new key set reaches the box, a person retries: sealed anew to the new key, delivered
    const sent = await force(['fleet', 'cmd', 'box-1', 'set_key_set', '--json', '--config', chain.kit.forceConfig]);
    expect(sent.code, sent.stdout + sent.stderr).toBe(0);
    const retried = await runCli(['incident', 'retry', id, '--config', chain.boxConfig]);
    expect(retried.code, retried.stderr).toBe(0);
    await waitForState(chain.stateDir, id, ['delivered'], 180_000);
    const envelopes = ofIncident(await outbox());
    expect(envelopes.map((e) => e.state).sort()).toEqual(['delivered', 'rejected']);
    delivered = id;
    const fdb2 = openForceDb(chain.kit.forceDir);
    try {
      expect(fdb2.db.prepare('SELECT COUNT(*) AS n FROM incidents WHERE incident_id = ?').get(id)).toEqual({ n: 1 });
    } finally {
      fdb2.close();
    }
  }, 420_000);

  it('upload_masters: each master clip reaches the force sealed, its SHA-256 equal to the evidence manifest\'s; bad requests are answered with the reason', async () => {
    expect(delivered).not.toBe('');
    const fleet = (args: string[]) => force(['fleet', ...args, '--config', chain.kit.forceConfig]);
    const r = await fleet(['cmd', 'box-1', 'upload_masters', '--arg', `incident_id=${delivered}`, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const reply = (JSON.parse(r.stdout) as { status: string; reply: { envelopes: { camera: string; envelope_id: string; sha256: string; bytes: number }[] } }[])[0]!;
    expect(reply.status).toBe('done');
    expect(reply.reply.envelopes.map((e) => e.camera)).toEqual(['till2']);
    const sent = reply.reply.envelopes[0]!;

    const kept = await waitFor(
      () => {
        const fdb = openForceDb(chain.kit.forceDir);
        try {
          return fdb.db.prepare('SELECT camera, sha256, bytes, path FROM master_clips WHERE incident_id = ?').get(delivered) as { camera: string; sha256: string; bytes: number; path: string } | undefined;
        } finally {
          fdb.close();
        }
      },
      { timeoutMs: 60_000, what: 'the master clip at the force' },
    );
    // the clip's hash: the box's record, the evidence manifest the force stored, the file the force keeps
    const fdb = openForceDb(chain.kit.forceDir);
    let manifestClips: { camera: string; sha256: string; bytes: number }[];
    try {
      const ev = fdb.db.prepare('SELECT manifest FROM incidents WHERE incident_id = ?').get(delivered) as { manifest: string };
      manifestClips = (JSON.parse(ev.manifest) as { manifest: { clips: { camera: string; sha256: string; bytes: number }[] } }).manifest.clips;
    } finally {
      fdb.close();
    }
    expect(manifestClips.map((c) => ({ camera: c.camera, sha256: c.sha256, bytes: c.bytes }))).toEqual([{ camera: 'till2', sha256: sent.sha256, bytes: sent.bytes }]);
    expect(kept).toMatchObject({ camera: 'till2', sha256: sent.sha256, bytes: sent.bytes });
    expect(createHash('sha256').update(readFileSync(kept.path)).digest('hex')).toBe(sent.sha256);
    const incident = await getIncident(chain.stateDir, delivered);
    const boxDb = readDb(chain.stateDir);
    try {
      expect(boxDb.prepare('SELECT clip_sha256 FROM incident_cameras WHERE incident_id = ?').pluck().all(delivered)).toEqual([sent.sha256]);
    } finally {
      boxDb.close();
    }
    // the box: its masters envelope delivered, the incident still delivered (not touched by it)
    await waitFor(async () => JSON.parse((await runCli(['uplink', 'status', '--json', '--config', chain.boxConfig])).stdout).recent.some((e: { kind: string; state: string; envelope_id: string }) => e.kind === 'masters' && e.envelope_id === sent.envelope_id && e.state === 'delivered'), { timeoutMs: 30_000, what: 'the masters envelope delivered' });
    expect(incident.state).toBe('delivered');

    // bad requests: no such incident; an id that is not one
    const none = JSON.parse((await fleet(['cmd', 'box-1', 'upload_masters', '--arg', 'incident_id=nope', '--json'])).stdout)[0] as { status: string; error: string };
    expect(none).toMatchObject({ status: 'failed' });
    expect(none.error).toMatch(/no incident nope on this box/);
    const bad = await fleet(['cmd', 'box-1', 'upload_masters', '--arg', 'incident_id=../x', '--json']);
    expect(bad.stdout + bad.stderr).toMatch(/incident_id/);
  }, 180_000);

  it("deletion receipts: the box's deletions reach the force sealed, as its audit rows (same hashes), each once", async () => {
    expect(delivered).not.toBe('');
    // the box's own record of deleting the delivered incident's working files
    const boxRows = async () => (await runCli(['audit', 'export', '--config', chain.boxConfig])).stdout.trim().split('\n').map((l) => JSON.parse(l) as { seq: number; action: string; object_ids: string[]; sha256s: string[]; hash: string });
    const deletedHere = (await boxRows()).filter((r) => r.action === 'evidence.working_files_deleted' && r.object_ids[0] === delivered);
    expect(deletedHere.length).toBeGreaterThanOrEqual(1);
    const atForce = () => {
      const fdb = openForceDb(chain.kit.forceDir);
      try {
        return fdb.db.prepare("SELECT seq, action, object_ids, sha256s, row_hash FROM deletion_receipts WHERE device_id = 'box-1' ORDER BY seq").all() as { seq: number; action: string; object_ids: string; sha256s: string; row_hash: string }[];
      } finally {
        fdb.close();
      }
    };
    const want = deletedHere.map((r) => r.seq);
    await waitFor(() => want.every((s) => atForce().some((r) => r.seq === s)), { timeoutMs: 60_000, what: 'the deletion receipts at the force' });
    const got = atForce();
    for (const r of deletedHere) {
      const f = got.find((g) => g.seq === r.seq)!;
      expect({ action: f.action, object_ids: JSON.parse(f.object_ids), sha256s: JSON.parse(f.sha256s), hash: f.row_hash }).toEqual({ action: r.action, object_ids: r.object_ids, sha256s: r.sha256s, hash: r.hash });
    }
    // the force's CLI shows them, by incident
    const shown = await force(['fleet', 'deletions', 'box-1', '--object', delivered, '--json', '--config', chain.kit.forceConfig]);
    expect(shown.code, shown.stderr).toBe(0);
    expect((JSON.parse(shown.stdout) as { seq: number }[]).map((d) => d.seq).sort((a, b) => a - b)).toEqual(want);
    expect((await force(['fleet', 'deletions', 'box-1', '--object', 'no-such-incident', '--config', chain.kit.forceConfig])).stdout).toMatch(/no deletion receipt from box-1 naming no-such-incident/);
    // only deletions, each row once; the reports' own delivery adds no row to report (no endless trickle)
    expect(new Set(got.map((r) => r.action))).toEqual(new Set(['evidence.working_files_deleted']));
    expect(new Set(got.map((r) => r.seq)).size).toBe(got.length);
    const reports = async () => JSON.parse((await runCli(['uplink', 'status', '--json', '--config', chain.boxConfig])).stdout).recent.filter((e: { kind: string }) => e.kind === 'deletions') as { state: string }[];
    await waitFor(async () => (await reports()).every((e) => e.state === 'delivered'), { timeoutMs: 30_000, what: 'the deletion reports delivered' });
    const settled = (await reports()).length;
    await new Promise((r) => setTimeout(r, 12_000)); // two more report intervals
    expect((await reports()).length).toBe(settled);
  }, 180_000);
});
