import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../../daemon/src/audit/log.js';
import { CredentialVault, credentialsKeyPath } from '../../../daemon/src/cameras/credentials.js';
import { CameraNetworks } from '../../../daemon/src/cameras/networks.js';
import { CameraCatalog } from '../../../daemon/src/cameras/catalog.js';
import { openDatabase, type Db } from '../../../daemon/src/db/db.js';
import { CamerasRepo, CAMERAS_REVISION_KEY } from '../../../daemon/src/db/repos/cameras.js';
import { MetaRepo } from '../../../daemon/src/db/repos/meta.js';
import { ManualClock } from '../../../daemon/src/util/clock.js';
import { tempDir } from '../../helpers/paths.js';

const ACTOR = { type: 'cli', id: 'manager' } as const;
const PASSWORD = 'Sh0p-Camera-Pa55!';

function setup(): { dir: string; db: Db; audit: AuditLog; cameras: CameraCatalog; keyFile: string } {
  const dir = tempDir();
  const db = openDatabase(path.join(dir, 'h.db'));
  const clock = new ManualClock();
  const audit = new AuditLog(db, clock);
  const location = credentialsKeyPath('', dir, {});
  const cameras = new CameraCatalog({ db, audit, clock, networks: new CameraNetworks(['127.0.0.0/8']), vault: new CredentialVault(location) });
  return { dir, db, audit, cameras, keyFile: location.file };
}

describe('camera registry', () => {
  it('stores credentials apart from the URL, sealed with AES-256-GCM under a 0600 key file, and never returns them', async () => {
    const { db, audit, cameras, keyFile } = setup();
    const cam = await cameras.add({ id: 'till2', name: 'Till 2', url: 'rtsp://127.0.0.1:8554/stream', credentials: { username: 'viewer', password: PASSWORD } }, ACTOR);
    expect(cam).toMatchObject({ id: 'till2', url: 'rtsp://127.0.0.1:8554/stream', transport: 'tcp', enabled: true, hasCredentials: true });
    expect(JSON.stringify(cameras.list())).not.toContain(PASSWORD);
    expect(JSON.stringify(cameras.list())).not.toContain('viewer');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const row = db.prepare('SELECT * FROM cameras WHERE id = ?').get('till2') as Record<string, unknown>;
    expect(row.url).toBe('rtsp://127.0.0.1:8554/stream');
    expect((row.credentials_ciphertext as Buffer).includes(Buffer.from(PASSWORD))).toBe(false);
    db.pragma('wal_checkpoint(TRUNCATE)');
    expect(readFileSync(path.join(path.dirname(keyFile), 'h.db')).includes(Buffer.from(PASSWORD))).toBe(false);
    expect(cameras.credentials('till2')).toEqual({ username: 'viewer', password: PASSWORD });
    const target = await cameras.target('till2');
    expect(target).toMatchObject({ credentials: { username: 'viewer', password: PASSWORD }, resolved: { addresses: ['127.0.0.1'], port: 8554, pathAndQuery: '/stream' } });
    const rows = [...audit.rows()];
    expect(rows.map((r) => r.action)).toEqual(['camera.added']);
    expect(rows[0]!.detail).toMatchObject({ credentials: 'set', url: 'rtsp://127.0.0.1:8554/stream' });
    expect(JSON.stringify(rows)).not.toContain(PASSWORD);
  });

  it('binds sealed credentials to their camera and names a changed key instead of guessing', async () => {
    const { db, cameras, keyFile } = setup();
    await cameras.add({ id: 'a', name: 'A', url: 'rtsp://127.0.0.1/a', credentials: { username: 'u', password: 'pa' } }, ACTOR);
    await cameras.add({ id: 'b', name: 'B', url: 'rtsp://127.0.0.1/b' }, ACTOR);
    // copy A's sealed blob onto B's row: it must not open as B's
    db.prepare('UPDATE cameras SET credentials_key_id = (SELECT credentials_key_id FROM cameras WHERE id = ?), credentials_nonce = (SELECT credentials_nonce FROM cameras WHERE id = ?), credentials_ciphertext = (SELECT credentials_ciphertext FROM cameras WHERE id = ?) WHERE id = ?').run('a', 'a', 'a', 'b');
    expect(() => cameras.credentials('b')).toThrow(/do not decrypt/);
    // another key file: a clear error naming both keys
    writeFileSync(keyFile, 'ab'.repeat(32) + '\n');
    const fresh = new CameraCatalog({ db, audit: new AuditLog(db, new ManualClock()), clock: new ManualClock(), networks: new CameraNetworks(['127.0.0.0/8']), vault: new CredentialVault({ file: keyFile, create: true }) });
    expect(() => fresh.credentials('a')).toThrow(/stored with key [0-9a-f]{16}, but the key file holds [0-9a-f]{16}/);
    // a key readable by others is refused
    chmodSync(keyFile, 0o644);
    const loose = new CredentialVault({ file: keyFile, create: true });
    expect(() => loose.keyId()).toThrow(/can be read by other users.*644/);
  });

  it('validates ids, names and transports, audits refusals, and bumps the revision the daemon polls', async () => {
    const { db, audit, cameras } = setup();
    const meta = new MetaRepo(db);
    await cameras.add({ id: 'door', name: 'Front door', url: 'rtsp://127.0.0.1/door', zone: 'entrance' }, ACTOR);
    expect(meta.get(CAMERAS_REVISION_KEY)).toBe('1');
    for (const id of ['../etc', 'a/b', '', '.hidden', '%2e%2e', 'x'.repeat(65), 'a\0b']) {
      await expect(cameras.add({ id, name: 'X', url: 'rtsp://127.0.0.1/x' }, ACTOR), id).rejects.toThrow(/not a valid id/);
    }
    await expect(cameras.add({ id: 'door', name: 'Again', url: 'rtsp://127.0.0.1/x' }, ACTOR)).rejects.toThrow(/already exists/);
    await expect(cameras.add({ id: 'c1', name: 'bad\nname', url: 'rtsp://127.0.0.1/x' }, ACTOR)).rejects.toThrow(/control characters/);
    await expect(cameras.add({ id: 'c1', name: 'C1', url: 'rtsp://user:pw@127.0.0.1/x' }, ACTOR)).rejects.toThrow(/username or password/);
    await expect(cameras.add({ id: 'c1', name: 'C1', url: 'rtsp://127.0.0.1/x', transport: 'http' as never }, ACTOR)).rejects.toThrow(/tcp or udp/);
    expect(cameras.list().map((c) => c.id)).toEqual(['door']);
    expect(meta.get(CAMERAS_REVISION_KEY)).toBe('1');
    const denied = [...audit.rows()].filter((r) => r.result === 'denied');
    expect(denied.length).toBe(11);
    expect(JSON.stringify(denied)).not.toContain('pw@');
    expect(audit.verify().ok).toBe(true);

    const injection = `Robert'); DROP TABLE cameras; --`;
    await cameras.update('door', { name: injection }, ACTOR);
    expect(cameras.get('door')!.name, 'stored verbatim').toBe(injection);
    await cameras.update('door', { name: 'Front door' }, ACTOR);
    const updated = await cameras.update('door', { enabled: false, zone: 'front' }, ACTOR);
    expect(updated).toMatchObject({ enabled: false, zone: 'front', name: 'Front door' });
    expect(meta.get(CAMERAS_REVISION_KEY)).toBe('4');
    expect([...audit.rows()].pop()!.detail).toMatchObject({ changed: ['zone', 'enabled'], credentials: 'unchanged' });
    await cameras.update('door', { credentials: { username: 'u', password: 'p' } }, ACTOR);
    expect(new CamerasRepo(db).get('door')!.hasCredentials).toBe(true);
    await cameras.update('door', { credentials: null }, ACTOR);
    expect(new CamerasRepo(db).get('door')!.hasCredentials).toBe(false);
    cameras.remove('door', ACTOR);
    expect(cameras.list()).toEqual([]);
    expect(() => cameras.remove('door', ACTOR)).toThrow(/there is no camera door/);
    expect([...audit.rows()].filter((r) => r.result === 'ok').map((r) => r.action)).toEqual(['camera.added', ...Array(5).fill('camera.updated'), 'camera.removed']);
  });
});
