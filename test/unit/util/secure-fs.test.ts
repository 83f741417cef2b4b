import { copyFileSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlServer } from '../../../daemon/src/control/server.js';
import { generateKeyPair, readKeyFile, writeKeyFile, writeSecretFile } from '../../../daemon/src/crypto/keys.js';
import { writeBrokerKit } from '../../../daemon/src/force/broker-kit.js';
import { forceKeygen, loadRecipientKeys } from '../../../daemon/src/force/keys.js';
import { extractPackage, listIncidents, openEnvelopeDir, reverify } from '../../../daemon/src/force/open.js';
import { forcePaths } from '../../../daemon/src/force/paths.js';
import { DeviceRegistry } from '../../../daemon/src/force/registry.js';
import { silentLogger } from '../../../daemon/src/log/logger.js';
import { openDatabase } from '../../../daemon/src/db/db.js';
import { runCommand } from '../../../daemon/src/util/child.js';
import { resolveInside } from '../../../daemon/src/util/secure-fs.js';
import { makePackageFolder } from '../../helpers/evidence.js';
import { ForceStoreBuilder } from '../../helpers/force-intake.js';
import { CLI, tempDir } from '../../helpers/paths.js';

const mode = (file: string): string => (lstatSync(file).mode & 0o777).toString(8);

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    return d.isDirectory() ? [p, ...walk(p)] : [p];
  });
}

/** Run `fn` with umask 000, so only the modes the code sets itself protect the files. */
function withOpenUmask<T>(fn: () => T): T {
  const old = process.umask(0);
  try {
    return fn();
  } finally {
    process.umask(old);
  }
}

describe('files and permissions: evidence, keys and secrets are owner-only whatever the umask', () => {
  let dir: string;
  let force: ForceStoreBuilder;

  beforeAll(async () => {
    dir = tempDir('hs-secure-');
    const crops = (await makePackageFolder(path.join(dir, 'crops'), { subjects: 1, crops: 1 })).workingFiles.filter((f) => f.endsWith('.jpg'));
    const old = process.umask(0);
    try {
      force = new ForceStoreBuilder(dir);
      await force.addIncident('box-1', 'Store 1', 'inc-1', [{ crops, embedding: new Float32Array(8).fill(0.5) }]);
    } finally {
      process.umask(old);
    }
  });
  afterAll(() => force?.close());

  it('the force store: folders 0700, files 0600; the database, its WAL and the keys 0600', () => {
    const p = forcePaths(force.forceDir);
    const stored = walk(p.store);
    expect(stored.some((f) => f.endsWith('body.bin'))).toBe(true);
    for (const f of [p.store, ...stored]) expect(`${path.relative(p.store, f) || '.'} ${mode(f)}`).toBe(`${path.relative(p.store, f) || '.'} ${statSync(f).isDirectory() ? '700' : '600'}`);
    for (const f of [p.db, `${p.db}-wal`, p.keyset, p.rootKey, p.receiptKey, p.mqttPassword, p.brokerPasswd]) expect(`${path.basename(f)} ${mode(f)}`).toBe(`${path.basename(f)} 600`);
    expect(mode(p.keysDir)).toBe('700');
  });

  it('force keygen writes force.yaml and keyset.json 0600; the broker kit is never readable by other users', () => {
    const d = path.join(dir, 'force-2');
    withOpenUmask(() => {
      forceKeygen(d, { now: Date.now(), validityDays: 30, brokerUrl: 'mqtts://127.0.0.1:8883' });
      writeBrokerKit(d, { prefix: 'hindsight/v1', forceUsers: ['svc.force'] });
    });
    const p = forcePaths(d);
    expect([mode(p.dir), mode(p.config), mode(p.keyset), mode(p.brokerPasswd)]).toEqual(['700', '600', '600', '600']);
    for (const f of walk(p.brokerDir)) expect(lstatSync(f).mode & 0o007, f).toBe(0);
    expect(lstatSync(p.brokerDir).mode & 0o007).toBe(0);
  });

  it('the box database and the control token are 0600; the token is never written through a link', async () => {
    const state = path.join(dir, 'box');
    const db = withOpenUmask(() => openDatabase(path.join(state, 'hindsight.db')));
    db.prepare('CREATE TABLE t (x)').run();
    expect([mode(path.join(state, 'hindsight.db')), mode(path.join(state, 'hindsight.db-wal'))]).toEqual(['600', '600']);
    db.close();
    const elsewhere = path.join(dir, 'elsewhere.txt');
    writeFileSync(elsewhere, 'not the token\n');
    symlinkSync(elsewhere, path.join(state, 'control.token'));
    const server = new ControlServer(state, silentLogger);
    await withOpenUmask(() => server.start());
    try {
      expect(readFileSync(elsewhere, 'utf8')).toBe('not the token\n');
      expect(lstatSync(path.join(state, 'control.token')).isFile()).toBe(true);
      expect(mode(path.join(state, 'control.token'))).toBe('600');
    } finally {
      await server.stop();
    }
  });

  it('a secret is written through a fresh exclusive temporary file, and a key is never read through a link', () => {
    const keys = path.join(dir, 'keys-test');
    mkdirSync(keys, { mode: 0o700 });
    const file = path.join(keys, 'device.key');
    const trap = path.join(dir, 'trap.txt');
    writeFileSync(trap, '');
    // a link placed where the old code put its temporary file
    symlinkSync(trap, `${file}.${process.pid}.tmp`);
    const pair = generateKeyPair('ed25519');
    withOpenUmask(() => writeKeyFile(file, pair));
    expect(readFileSync(trap, 'utf8')).toBe('');
    expect(mode(file)).toBe('600');
    expect(readKeyFile(file).kid).toBe(pair.kid);
    const link = path.join(keys, 'link.key');
    symlinkSync(file, link);
    expect(() => readKeyFile(link)).toThrow(/symbolic link/);
    withOpenUmask(() => writeSecretFile(path.join(dir, 'new-folder', 'secret'), 'x'));
    expect([mode(path.join(dir, 'new-folder')), mode(path.join(dir, 'new-folder', 'secret'))]).toEqual(['700', '600']);
  });

  it('re-verification refuses a stored file swapped for a link, a file path outside the incident folder, and a folder outside the store', async () => {
    const p = forcePaths(force.forceDir);
    const keys = loadRecipientKeys(force.forceDir);
    const row = listIncidents(force.fdb.db)[0]!;
    expect(await reverify(force.fdb.db, row, keys, p.store)).toBe('ok');
    const file = force.fdb.db.prepare('SELECT name, path FROM files WHERE envelope_id = ? LIMIT 1').get(row.envelope_id) as { name: string; path: string };

    // 1. the stored file replaced by a link to an identical copy elsewhere
    const outside = path.join(dir, 'outside-copy');
    copyFileSync(file.path, outside);
    renameSync(file.path, `${file.path}.real`);
    symlinkSync(outside, file.path);
    expect(await reverify(force.fdb.db, row, keys, p.store)).toMatch(/^FAILED: stored file .* missing or altered/);
    renameSync(`${file.path}.real`, file.path);
    expect(await reverify(force.fdb.db, row, keys, p.store)).toBe('ok');

    // 2. the recorded path pointing out of the incident folder (at an identical copy)
    force.fdb.db.prepare('UPDATE files SET path = ? WHERE envelope_id = ? AND name = ?').run(path.join(row.dir, 'files', '..', '..', '..', '..', '..', 'outside-copy'), row.envelope_id, file.name);
    expect(await reverify(force.fdb.db, row, keys, p.store)).toMatch(/outside its incident folder/);
    force.fdb.db.prepare('UPDATE files SET path = ? WHERE envelope_id = ? AND name = ?').run(file.path, row.envelope_id, file.name);

    // 3. the incident's folder recorded outside the store (a verbatim copy)
    const copy = path.join(dir, 'copied-incident');
    for (const f of walk(row.dir)) {
      const to = path.join(copy, path.relative(row.dir, f));
      if (statSync(f).isDirectory()) mkdirSync(to, { recursive: true });
      else copyFileSync(f, to);
    }
    expect(await reverify(force.fdb.db, { ...row, dir: copy }, keys, p.store)).toMatch(/leaves its folder/);
  });

  it('the envelope files are read without following links; extraction writes 0600 files and never through a link', async () => {
    const row = listIncidents(force.fdb.db)[0]!;
    const devicePk = new DeviceRegistry(force.fdb.db).get('box-1')!.signingPk!;
    const keys = loadRecipientKeys(force.forceDir);
    const linked = path.join(dir, 'linked-envelope');
    mkdirSync(linked);
    symlinkSync(path.join(row.dir, 'envelope', 'manifest.json'), path.join(linked, 'manifest.json'));
    copyFileSync(path.join(row.dir, 'envelope', 'body.bin'), path.join(linked, 'body.bin'));
    await expect(openEnvelopeDir(linked, devicePk, keys)).rejects.toThrow(/symbolic link/);

    const opened = await openEnvelopeDir(row.dir, devicePk, keys);
    const out = path.join(dir, 'extracted');
    const written = withOpenUmask(() => extractPackage(opened.pkg, out));
    expect(written.length).toBeGreaterThan(0);
    for (const f of [out, ...walk(out)]) expect(`${path.basename(f)} ${mode(f)}`).toBe(`${path.basename(f)} ${statSync(f).isDirectory() ? '700' : '600'}`);
    const target = path.join(dir, 'not-to-overwrite');
    writeFileSync(target, 'keep\n');
    const out2 = path.join(dir, 'extracted-2');
    const planted = path.join(out2, path.relative(out, written[0]!));
    mkdirSync(path.dirname(planted), { recursive: true });
    symlinkSync(target, planted);
    expect(() => extractPackage(opened.pkg, out2)).toThrow(/symbolic link/);
    expect(readFileSync(target, 'utf8')).toBe('keep\n');
  });

  it('the program narrows a permissive umask (its children, ffmpeg included, inherit it): a file it creates is not for other users', async () => {
    const file = path.join(dir, 'schema.json');
    const r = await runCommand('sh', ['-c', 'umask 000 && exec "$0" "$1" config schema --write "$2"', process.execPath, CLI, file], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(lstatSync(file).mode & 0o027).toBe(0);
  });

  it('evidence is never stored through a link inside the store (a device folder swapped for one is refused)', async () => {
    const p = forcePaths(force.forceDir);
    const crops = walk(path.join(dir, 'crops')).filter((f) => f.endsWith('.jpg'));
    const elsewhere = path.join(dir, 'elsewhere-store');
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, path.join(p.store, 'box-2'));
    await expect(force.addIncident('box-2', 'Store 2', 'inc-2', [{ crops, embedding: new Float32Array(8).fill(0.5) }])).rejects.toThrow(/symbolic link/);
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  it('evidence paths are resolved and must stay inside their folder', () => {
    expect(resolveInside('/srv/store', 'box', 'inc', 'env')).toBe('/srv/store/box/inc/env');
    expect(resolveInside('/srv/store', '..foo')).toBe('/srv/store/..foo');
    for (const bad of [['..', 'x'], ['a', '..', '..', 'x'], ['/etc/passwd'], ['.']]) expect(() => resolveInside('/srv/store', ...bad), bad.join('/')).toThrow(/leaves its folder/);
  });
});
