import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../daemon/src/audit/log.js';
import { openDatabase, type Db } from '../../../daemon/src/db/db.js';
import { completeWipe, markWipe, pendingWipe, type WipeTargets } from '../../../daemon/src/fleet/wipe.js';
import { ManualClock } from '../../../daemon/src/util/clock.js';
import { tempDir } from '../../helpers/paths.js';

const NOW = Date.UTC(2026, 6, 1);
const INCIDENT = 'inc1';

/**
 * The wipe's destruction on a real state folder and database: keys, enrollment, footage, evidence and
 * rows go; nothing is followed through a symbolic link and nothing the database does not name as the
 * box's own is touched; the audit log stays, verifies and tells the story.
 */
describe('completeWipe', () => {
  let dir: string;
  let state: string;
  let outside: string;
  let db: Db;
  let audit: AuditLog;
  let targets: WipeTargets;
  const file = (p: string, data = 'data'): string => {
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, data);
    return p;
  };
  const count = (table: string): number => (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;

  beforeEach(() => {
    dir = tempDir('hs-wipe-');
    state = path.join(dir, 'state');
    outside = path.join(dir, 'outside');
    mkdirSync(state, { recursive: true });
    db = openDatabase(path.join(state, 'hindsight.db'));
    audit = new AuditLog(db, new ManualClock(NOW));
    targets = {
      secretFiles: [path.join(state, 'keys', 'device.key'), path.join(state, 'uplink', 'enrollment.json'), path.join(state, 'uplink', 'ca.pem'), path.join(state, 'camera-credentials.key')],
      bufferDir: path.join(state, 'buffer'),
      evidenceDir: path.join(state, 'evidence'),
    };
    file(targets.secretFiles[0]!, 'PRIVATE KEY');
    file(targets.secretFiles[1]!, '{"mqtt":{"password":"broker-secret"}}');
    // a secret's name that is a link: the link goes, the file it points at is neither read nor written
    file(path.join(outside, 'not-ours.pem'), 'someone else\'s file');
    symlinkSync(path.join(outside, 'not-ours.pem'), targets.secretFiles[2]!);
    file(path.join(state, 'buffer', 'till2', 'r_1.ts'), 'footage');
    file(path.join(state, 'buffer', 'till2', 'r_2.ts'), 'footage not yet indexed');
    file(path.join(outside, 'dir', 'keep.txt'), 'keep me');
    symlinkSync(path.join(outside, 'dir'), path.join(state, 'buffer', 'till2', 'escape'));
    file(path.join(state, 'buffer', 'notacamera', 'x'), 'not the box\'s');
    file(path.join(state, 'evidence', INCIDENT, 'master', 'till2.ts'), 'master clip');
    file(path.join(state, 'evidence', INCIDENT, 'faces', 'f1.jpg'), 'crop');

    db.prepare("INSERT INTO cameras (id, name, url, transport, zone, enabled, created_utc_ms, updated_utc_ms) VALUES ('till2', 'Till 2', 'rtsp://10.0.0.2/s', 'tcp', '', 1, ?, ?)").run(NOW, NOW);
    db.prepare("INSERT INTO segments (camera_id, path, start_utc_ms, end_utc_ms, bytes, run_id) VALUES ('till2', 'till2/r_1.ts', ?, ?, 7, 'r')").run(NOW - 2000, NOW);
    db.prepare(
      `INSERT INTO incidents (id, state, logged_at_ms, incident_at_ms, window_from_ms, window_to_ms, reason, justification, logged_by_type, logged_by_id, camera_selector, updated_at_ms)
       VALUES (?, 'sealed', ?, ?, ?, ?, 'theft', 'a justification of some length', 'user', 'u1', '"all"', ?)`,
    ).run(INCIDENT, NOW, NOW, NOW - 60_000, NOW, NOW);
    db.prepare("INSERT INTO outbox (envelope_id, incident_id, msg_seq, created_utc, state, manifest, n_chunks, bytes, body_sha256) VALUES ('env1', ?, 1, ?, 'pending', '{}', 1, 3, ?)").run(INCIDENT, NOW, 'a'.repeat(64));
    db.prepare("INSERT INTO outbox_chunks (envelope_id, idx, data) VALUES ('env1', 0, x'010203')").run();
    db.prepare("INSERT INTO web_accounts (id, role, name, name_key, secret_hash, created_utc_ms, created_by) VALUES ('a1', 'manager', 'M', 'm', 'h', ?, 'setup')").run(NOW);
    db.prepare("INSERT INTO web_sessions (id_hash, account_id, csrf, created_utc_ms, seen_utc_ms, ip) VALUES ('s1', 'a1', 'c', ?, ?, '10.0.0.9')").run(NOW, NOW);
  });

  it('destroys keys, enrollment, footage, evidence, outbox and sessions; follows no link; audits both steps', () => {
    db.transaction(() => markWipe(db, audit, { cmdId: 'cmd-wipe', issuerKid: '0123456789abcdef', role: 'command-admin', reason: 'box stolen' }))();
    expect(pendingWipe(db)).toBe('cmd-wipe');
    const summary = completeWipe(db, audit, targets);

    expect(summary).toMatchObject({ secret_files: 3, footage_files: 3, evidence_files: 2, rows: { outbox: 1, outbox_chunks: 1, segments: 1, web_sessions: 1 }, failures: [] });
    for (const f of targets.secretFiles) expect(existsSync(f), f).toBe(false);
    expect(existsSync(path.join(state, 'buffer', 'till2'))).toBe(false);
    expect(existsSync(path.join(state, 'evidence', INCIDENT))).toBe(false);
    // what the links pointed at, and what the database does not name, are untouched
    expect(readFileSync(path.join(outside, 'not-ours.pem'), 'utf8')).toBe('someone else\'s file');
    expect(readFileSync(path.join(outside, 'dir', 'keep.txt'), 'utf8')).toBe('keep me');
    expect(existsSync(path.join(state, 'buffer', 'notacamera', 'x'))).toBe(true);
    for (const t of ['outbox', 'outbox_chunks', 'segments', 'web_sessions']) expect(count(t), t).toBe(0);
    expect(count('web_accounts')).toBe(1);

    expect(pendingWipe(db)).toBeUndefined();
    const wiped = audit.find({ action: 'device.wiped' });
    expect(wiped).toHaveLength(1);
    expect(wiped[0]).toMatchObject({ actor: { type: 'force', id: '0123456789abcdef', role: 'command-admin' }, object_ids: ['cmd-wipe'], justification: 'box stolen' });
    const done = audit.find({ action: 'device.wipe_completed' });
    expect(done).toHaveLength(1);
    expect(done[0]!.object_ids).toEqual(['cmd-wipe']);
    expect(done[0]!.seq).toBeGreaterThan(wiped[0]!.seq);
    expect(audit.verify().ok).toBe(true);

    // finishing again (a crash before the mark was cleared) does no harm
    expect(completeWipe(db, audit, targets)).toMatchObject({ secret_files: 0, footage_files: 0, evidence_files: 0, failures: [] });
  });

  it('a secret file is overwritten before it is unlinked (a hard link elsewhere shows zeros)', async () => {
    const { linkSync } = await import('node:fs');
    const copy = path.join(dir, 'hardlink-of-device-key');
    linkSync(targets.secretFiles[0]!, copy);
    db.transaction(() => markWipe(db, audit, { cmdId: 'c2', issuerKid: '0123456789abcdef', role: 'command-admin', reason: 'r' }))();
    completeWipe(db, audit, targets);
    expect(readFileSync(copy)).toEqual(Buffer.alloc('PRIVATE KEY'.length));
  });
});
