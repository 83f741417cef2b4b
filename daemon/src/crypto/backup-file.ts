import { createCipheriv, createDecipheriv, createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, rmSync, writeSync, constants as fsConstants } from 'node:fs';
import path from 'node:path';
import { HindsightError } from '../util/errors.js';

/**
 * The encrypted backup file of a box or a force: one stream, AES-256-GCM in 1 MiB chunks (each chunk's
 * nonce holds its number and whether it is the last, so a reordered, cut or extended file fails), under
 * a key from a passphrase (scrypt) or a 256-bit key file. The plaintext is a manifest line (each member's
 * name, size, mode and SHA-256) followed by the members' bytes; a restore writes each member only into
 * the folder it is given, and checks every hash before anything is used.
 *
 *   line 1   hindsight-backup/1
 *   line 2   header JSON: kind, kdf (scrypt salt and cost, or the key file's id), nonce prefix
 *   then     records: u32 ciphertext length | ciphertext | 16-byte tag   (AAD: line 1 + line 2)
 */

const MAGIC = 'hindsight-backup/1';
const CHUNK = 1024 * 1024;
const TAG = 16;
const MAX_HEADER = 4096;
const MAX_MANIFEST = 1024 * 1024;
const SCRYPT = { N: 1 << 17, r: 8, p: 1 } as const;
const SCRYPT_MAXMEM = 256 * 1024 * 1024;

export type BackupSecret = { kind: 'passphrase'; passphrase: Buffer } | { kind: 'key'; key: Buffer };

export interface MemberSource {
  /** Name inside the backup: relative, '/'-separated, no '..'. */
  name: string;
  file: string;
  mode: number;
}

export interface MemberEntry {
  name: string;
  size: number;
  mode: number;
  sha256: string;
}

export interface BackupManifest<I = Record<string, unknown>> {
  kind: 'box' | 'force';
  created_at: number;
  /** What the restore needs to know (device id, schema version, audit head...). */
  info: I;
  members: MemberEntry[];
}

interface Header {
  kind: 'box' | 'force';
  kdf: { name: 'scrypt'; salt: string; N: number; r: number; p: number } | { name: 'key-file'; key_id: string };
  nonce_prefix: string;
}

export class BackupError extends HindsightError {}

/** The id a key file is known by in a backup's header (not secret: a hash of the key). */
export function keyFileId(key: Buffer): string {
  return createHash('sha256').update('hindsight-backup-key').update(key).digest('hex').slice(0, 16);
}

function deriveKey(secret: BackupSecret, kdf: Header['kdf']): Buffer {
  if (kdf.name === 'key-file') {
    if (secret.kind !== 'key') throw new BackupError('this backup was encrypted with a key file', { code: 'backup_needs_key_file', hint: 'pass --key-file FILE (the key file it was made with)' });
    if (keyFileId(secret.key) !== kdf.key_id) throw new BackupError(`this backup was encrypted with another key file (id ${kdf.key_id}, this one is ${keyFileId(secret.key)})`, { code: 'backup_wrong_key', hint: 'pass the key file the backup was made with' });
    return secret.key;
  }
  if (secret.kind !== 'passphrase') throw new BackupError('this backup was encrypted with a passphrase', { code: 'backup_needs_passphrase', hint: 'pass --passphrase-file FILE (or --passphrase-stdin)' });
  if (kdf.N > 1 << 20 || kdf.r > 32 || kdf.p > 16) throw new BackupError('the backup asks for an unreasonable scrypt cost', { code: 'backup_damaged' });
  return scryptSync(secret.passphrase, Buffer.from(kdf.salt, 'base64'), 32, { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: SCRYPT_MAXMEM * 4 });
}

function nonce(prefix: Buffer, counter: number, final: boolean): Buffer {
  const n = Buffer.alloc(12);
  prefix.copy(n, 0, 0, 7);
  n.writeUInt32BE(counter, 7);
  n[11] = final ? 1 : 0;
  return n;
}

export function checkMemberName(name: string): string {
  const parts = name.split('/');
  if (!name || name.length > 512 || name.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..') || /[\\\0]/.test(name)) {
    throw new BackupError(`backup member name ${JSON.stringify(name.slice(0, 100))} is not a plain relative path`, { code: 'backup_damaged', hint: 'this file was not written by Hindsight, or was altered: use another backup' });
  }
  return name;
}

/** Hash and size a member's file (first pass: the manifest goes before the bytes). */
function describe(m: MemberSource): MemberEntry {
  const fd = openSync(m.file, 'r');
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(CHUNK);
  let size = 0;
  try {
    for (let n; (n = readSync(fd, buf, 0, CHUNK, null)) > 0; size += n) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return { name: checkMemberName(m.name), size, mode: m.mode & 0o777, sha256: hash.digest('hex') };
}

class Sealer {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private counter = 0;

  constructor(
    private readonly fd: number,
    private readonly key: Buffer,
    private readonly prefix: Buffer,
    private readonly aad: Buffer,
  ) {}

  push(data: Buffer): void {
    this.pending.push(Buffer.from(data));
    this.pendingBytes += data.length;
    while (this.pendingBytes > CHUNK) {
      const all = Buffer.concat(this.pending);
      this.emit(all.subarray(0, CHUNK), false);
      this.pending = [all.subarray(CHUNK)];
      this.pendingBytes = all.length - CHUNK;
    }
  }

  finish(): void {
    this.emit(Buffer.concat(this.pending), true);
    this.pending = [];
  }

  private emit(plain: Buffer, final: boolean): void {
    const c = createCipheriv('aes-256-gcm', this.key, nonce(this.prefix, this.counter++, final));
    c.setAAD(this.aad);
    const body = Buffer.concat([c.update(plain), c.final()]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    writeSync(this.fd, len);
    writeSync(this.fd, body);
    writeSync(this.fd, c.getAuthTag());
  }
}

/**
 * Write the members (files read now) and the manifest info to `outFile`, encrypted; the file appears
 * only when complete (written beside it, then renamed), owner-only.
 */
export function writeBackup<I>(outFile: string, kind: 'box' | 'force', info: I, members: MemberSource[], secret: BackupSecret, now: number): BackupManifest<I> {
  const manifest: BackupManifest<I> = { kind, created_at: now, info, members: members.map(describe) };
  const salt = randomBytes(16);
  const header: Header = {
    kind,
    kdf: secret.kind === 'key' ? { name: 'key-file', key_id: keyFileId(secret.key) } : { name: 'scrypt', salt: salt.toString('base64'), ...SCRYPT },
    nonce_prefix: randomBytes(7).toString('base64'),
  };
  const key = secret.kind === 'key' ? secret.key : scryptSync(secret.passphrase, salt, 32, { ...SCRYPT, maxmem: SCRYPT_MAXMEM });
  const head = Buffer.from(`${MAGIC}\n${JSON.stringify(header)}\n`);
  const tmp = `${outFile}.partial-${process.pid}`;
  let fd: number;
  try {
    fd = openSync(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
  } catch (err) {
    throw new BackupError(`cannot write ${outFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { code: 'backup_unwritable', hint: 'choose a folder you can write to, with room for the backup' });
  }
  try {
    writeSync(fd, head);
    const sealer = new Sealer(fd, key, Buffer.from(header.nonce_prefix, 'base64'), head);
    sealer.push(Buffer.from(JSON.stringify(manifest) + '\n'));
    const buf = Buffer.allocUnsafe(CHUNK);
    members.forEach((m, i) => {
      const src = openSync(m.file, 'r');
      let copied = 0;
      try {
        for (let n; (n = readSync(src, buf, 0, CHUNK, null)) > 0; copied += n) sealer.push(buf.subarray(0, n));
      } finally {
        closeSync(src);
      }
      if (copied !== manifest.members[i]!.size) throw new BackupError(`${m.file} changed while it was backed up`, { code: 'backup_changed', hint: 'run the backup again' });
    });
    sealer.finish();
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, outFile);
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      /* closed already */
    }
    rmSync(tmp, { force: true });
    throw err;
  }
  return manifest;
}

/** Reads a backup file record by record. */
class Opener {
  private fd: number;
  private counter = 0;
  private offset = 0;
  finalSeen = false;

  constructor(
    private readonly file: string,
    private readonly secret: BackupSecret,
  ) {
    try {
      this.fd = openSync(file, 'r');
    } catch (err) {
      throw new BackupError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { code: 'backup_unreadable', hint: 'check the path and that you may read it' });
    }
  }

  private key!: Buffer;
  private prefix!: Buffer;
  private aad!: Buffer;
  kind!: 'box' | 'force';

  open(): void {
    const first = Buffer.alloc(MAX_HEADER);
    const n = readSync(this.fd, first, 0, MAX_HEADER, 0);
    const text = first.subarray(0, n).toString('latin1');
    const l1 = text.indexOf('\n');
    const l2 = l1 < 0 ? -1 : text.indexOf('\n', l1 + 1);
    if (l1 < 0 || text.slice(0, l1) !== MAGIC || l2 < 0) throw this.damaged('it does not start like a Hindsight backup');
    let header: Header;
    try {
      header = JSON.parse(text.slice(l1 + 1, l2)) as Header;
    } catch {
      throw this.damaged('its header is not readable');
    }
    if ((header.kind !== 'box' && header.kind !== 'force') || typeof header.nonce_prefix !== 'string' || !header.kdf || (header.kdf.name !== 'scrypt' && header.kdf.name !== 'key-file')) throw this.damaged('its header is not one Hindsight writes');
    this.kind = header.kind;
    this.key = deriveKey(this.secret, header.kdf);
    this.prefix = Buffer.from(header.nonce_prefix, 'base64');
    this.aad = first.subarray(0, l2 + 1);
    this.offset = l2 + 1;
  }

  /** The next chunk of plaintext, or undefined after the last one. */
  next(): Buffer | undefined {
    if (this.finalSeen) {
      const extra = Buffer.alloc(1);
      if (readSync(this.fd, extra, 0, 1, this.offset) > 0) throw this.damaged('it has data after its last part');
      return undefined;
    }
    const len = this.exact(4).readUInt32BE();
    if (len > CHUNK + 64) throw this.damaged('a part is larger than any Hindsight writes');
    const body = this.exact(len);
    const tag = this.exact(TAG);
    // the last part is flagged in its nonce: try as a middle part first, then as the last
    for (const final of [false, true]) {
      const d = createDecipheriv('aes-256-gcm', this.key, nonce(this.prefix, this.counter, final));
      d.setAAD(this.aad);
      d.setAuthTag(tag);
      try {
        const plain = Buffer.concat([d.update(body), d.final()]);
        this.counter++;
        this.finalSeen = final;
        return plain;
      } catch {
        /* not this flag */
      }
    }
    if (this.counter === 0) {
      throw new BackupError(`cannot decrypt ${this.file}: wrong ${this.secret.kind === 'key' ? 'key file' : 'passphrase'}, or the file is damaged`, {
        code: 'backup_wrong_secret',
        hint: 'give the passphrase or key file the backup was made with',
      });
    }
    throw this.damaged(`part ${this.counter + 1} does not decrypt (altered or out of order)`);
  }

  private exact(n: number): Buffer {
    const b = Buffer.alloc(n);
    let got = 0;
    while (got < n) {
      const r = readSync(this.fd, b, got, n - got, this.offset + got);
      if (r === 0) throw this.damaged('it ends early (cut short)');
      got += r;
    }
    this.offset += n;
    return b;
  }

  damaged(why: string): BackupError {
    return new BackupError(`${this.file} is not a usable backup: ${why}`, { code: 'backup_damaged', hint: 'use another copy of the backup' });
  }

  close(): void {
    closeSync(this.fd);
  }
}

/**
 * Decrypt `inFile` and write its members under `destDir` (created, owner-only), checking each size and
 * SHA-256; throws before returning if anything does not check out (the caller then deletes destDir).
 */
export function readBackup<I>(inFile: string, secret: BackupSecret, destDir: string, expectKind?: 'box' | 'force'): BackupManifest<I> {
  const o = new Opener(inFile, secret);
  try {
    o.open();
    if (expectKind && o.kind !== expectKind) throw new BackupError(`${inFile} is a backup of a ${o.kind}, not of a ${expectKind}`, { code: 'backup_wrong_kind', hint: o.kind === 'force' ? 'restore it with `hindsight-force restore`' : 'restore it with `hindsight restore`' });
    let buffered: Buffer = Buffer.alloc(0);
    let manifest: BackupManifest<I> | undefined;
    while (!manifest) {
      const part = o.next();
      if (!part) throw o.damaged('it has no manifest');
      buffered = Buffer.concat([buffered, part]);
      const nl = buffered.indexOf(0x0a);
      if (nl < 0 && buffered.length > MAX_MANIFEST) throw o.damaged('its manifest is too large');
      if (nl >= 0) {
        manifest = parseManifest<I>(buffered.subarray(0, nl), o);
        buffered = buffered.subarray(nl + 1);
      }
    }
    mkdirSync(destDir, { recursive: true, mode: 0o700 });
    for (const m of manifest.members) {
      const file = path.join(destDir, ...checkMemberName(m.name).split('/'));
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      const fd = openSync(file, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
      const hash = createHash('sha256');
      let left = m.size;
      try {
        while (left > 0) {
          if (buffered.length === 0) {
            const part = o.next();
            if (!part) throw o.damaged(`it ends inside ${m.name}`);
            buffered = part;
            continue;
          }
          const take = buffered.subarray(0, Math.min(left, buffered.length));
          writeSync(fd, take);
          hash.update(take);
          left -= take.length;
          buffered = buffered.subarray(take.length);
        }
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      const got = hash.digest();
      if (!timingSafeEqual(got, Buffer.from(m.sha256, 'hex'))) throw o.damaged(`${m.name} does not match its SHA-256`);
    }
    if (buffered.length > 0) throw o.damaged('it holds more than its manifest lists');
    while (o.next()) throw o.damaged('it holds more than its manifest lists');
    return manifest;
  } catch (err) {
    if (err instanceof HindsightError) throw err;
    throw new BackupError(`cannot restore from ${inFile}: ${(err as Error).message}`, { code: 'backup_unreadable' });
  } finally {
    o.close();
  }
}

function parseManifest<I>(line: Buffer, o: Opener): BackupManifest<I> {
  let m: BackupManifest<I>;
  try {
    m = JSON.parse(line.toString('utf8')) as BackupManifest<I>;
  } catch {
    throw o.damaged('its manifest is not JSON');
  }
  const ok =
    m &&
    typeof m === 'object' &&
    (m.kind === 'box' || m.kind === 'force') &&
    Number.isSafeInteger(m.created_at) &&
    Array.isArray(m.members) &&
    m.members.every((e) => typeof e?.name === 'string' && Number.isSafeInteger(e.size) && e.size >= 0 && Number.isInteger(e.mode) && /^[0-9a-f]{64}$/.test(String(e.sha256)));
  if (!ok) throw o.damaged('its manifest is not one Hindsight writes');
  const names = new Set<string>();
  for (const e of m.members) {
    const name = checkMemberName(e.name);
    if (names.has(name)) throw o.damaged(`it lists ${name} twice`);
    names.add(name);
  }
  return m;
}
