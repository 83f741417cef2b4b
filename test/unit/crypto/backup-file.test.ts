import { createCipheriv, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { keyFileId, readBackup, writeBackup, type BackupSecret } from '../../../daemon/src/crypto/backup-file.js';
import { tempDir } from '../../helpers/paths.js';

const pass: BackupSecret = { kind: 'passphrase', passphrase: Buffer.from('correct horse battery staple') };
const key: BackupSecret = { kind: 'key', key: randomBytes(32) };

function sample(dir: string): { name: string; file: string; mode: number }[] {
  const big = path.join(dir, 'big.bin');
  writeFileSync(big, randomBytes(2.5 * 1024 * 1024)); // spans three parts
  const small = path.join(dir, 'small.txt');
  writeFileSync(small, 'hello\n');
  const empty = path.join(dir, 'empty');
  writeFileSync(empty, '');
  return [
    { name: 'db/big.bin', file: big, mode: 0o600 },
    { name: 'config/small.txt', file: small, mode: 0o640 },
    { name: 'state/empty', file: empty, mode: 0o600 },
  ];
}

/** A file in the backup format under `k`, with a manifest of our choosing (as a forger who has the key would write). */
function forge(file: string, k: Buffer, manifest: unknown, body: Buffer): void {
  const header = { kind: 'box', kdf: { name: 'key-file', key_id: keyFileId(k) }, nonce_prefix: randomBytes(7).toString('base64') };
  const head = Buffer.from(`hindsight-backup/1\n${JSON.stringify(header)}\n`);
  const nonce = Buffer.alloc(12);
  Buffer.from(header.nonce_prefix, 'base64').copy(nonce);
  nonce[11] = 1;
  const c = createCipheriv('aes-256-gcm', k, nonce);
  c.setAAD(head);
  const ct = Buffer.concat([c.update(Buffer.concat([Buffer.from(JSON.stringify(manifest) + '\n'), body])), c.final()]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(ct.length);
  writeFileSync(file, Buffer.concat([head, len, ct, c.getAuthTag()]));
}

describe('the encrypted backup file', () => {
  it('round-trips every member byte for byte, with a passphrase or a key file', () => {
    const dir = tempDir('hs-archive-');
    const members = sample(dir);
    for (const secret of [pass, key]) {
      const out = path.join(dir, `b-${secret.kind}`);
      const m = writeBackup(out, 'box', { device_id: 'box-1' }, members, secret, 1_700_000_000_000);
      expect(m.members.map((x) => x.name)).toEqual(['db/big.bin', 'config/small.txt', 'state/empty']);
      // nothing readable in the file: not the small text, not the names
      const raw = readFileSync(out);
      expect(raw.includes(Buffer.from('hello'))).toBe(false);
      expect(raw.includes(Buffer.from('small.txt'))).toBe(false);
      const into = path.join(dir, `r-${secret.kind}`);
      const back = readBackup<{ device_id: string }>(out, secret, into, 'box');
      expect(back.info.device_id).toBe('box-1');
      for (const x of members) expect(readFileSync(path.join(into, ...x.name.split('/'))).equals(readFileSync(x.file))).toBe(true);
    }
  });

  it('refuses a wrong secret, a cut, altered or extended file, the wrong kind, and says so', () => {
    const dir = tempDir('hs-archive-bad-');
    const out = path.join(dir, 'b');
    writeBackup(out, 'box', {}, sample(dir), key, 1);
    const good = readFileSync(out);
    const attempt = (bytes: Buffer, secret: BackupSecret = key, kind: 'box' | 'force' = 'box') => {
      const f = path.join(dir, `try-${randomBytes(4).toString('hex')}`);
      writeFileSync(f, bytes);
      return () => readBackup(f, secret, path.join(dir, `into-${randomBytes(4).toString('hex')}`), kind);
    };
    expect(attempt(good, { kind: 'key', key: randomBytes(32) })).toThrow(/encrypted with another key file/);
    expect(attempt(good, pass)).toThrow(/encrypted with a key file/);
    expect(attempt(good.subarray(0, good.length - 100))).toThrow(/ends early \(cut short\)/);
    const altered = Buffer.from(good);
    altered[altered.length - 2000]! ^= 1;
    expect(attempt(altered)).toThrow(/does not decrypt \(altered or out of order\)/);
    expect(attempt(Buffer.concat([good, Buffer.from('x')]))).toThrow(/data after its last part/);
    expect(attempt(Buffer.from('PK\u0003\u0004 a zip file'))).toThrow(/does not start like a Hindsight backup/);
    expect(attempt(good, key, 'force')).toThrow(/backup of a box, not of a force[\s\S]*/);
    const p = path.join(dir, 'p');
    writeBackup(p, 'box', {}, sample(dir), pass, 1);
    expect(attempt(readFileSync(p), { kind: 'passphrase', passphrase: Buffer.from('not the passphrase') })).toThrow(/wrong passphrase, or the file is damaged/);
  });

  it('never writes outside the folder it restores into, even for a forged manifest', () => {
    const dir = tempDir('hs-archive-forged-');
    const k = (key as { key: Buffer }).key;
    const into = path.join(dir, 'into');
    for (const name of ['../escaped', '/etc/evil', 'a/../../escaped', 'a//b', 'a\\..\\b']) {
      const f = path.join(dir, 'forged');
      forge(f, k, { kind: 'box', created_at: 1, info: {}, members: [{ name, size: 3, mode: 0o600, sha256: '0'.repeat(64) }] }, Buffer.from('abc'));
      expect(() => readBackup(f, key, into, 'box'), name).toThrow(/is not a plain relative path/);
    }
    expect(existsSync(path.join(dir, 'escaped'))).toBe(false);
    // a member whose bytes do not match its hash
    const f = path.join(dir, 'forged-hash');
    forge(f, k, { kind: 'box', created_at: 1, info: {}, members: [{ name: 'x', size: 3, mode: 0o600, sha256: '0'.repeat(64) }] }, Buffer.from('abc'));
    expect(() => readBackup(f, key, path.join(dir, 'into2'), 'box')).toThrow(/x does not match its SHA-256/);
    expect(readdirSync(dir).includes('escaped')).toBe(false);
  });
});
