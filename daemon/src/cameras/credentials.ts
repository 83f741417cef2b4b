import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { HindsightError } from '../util/errors.js';
import { readNoFollow } from '../util/secure-fs.js';
import type { SealedCredentials } from '../db/repos/cameras.js';

export type { SealedCredentials };

/** Camera credentials: only ever in memory in plain form, never logged or returned by an API. */
export interface CameraCredentials {
  username: string;
  password: string;
}

/** The name of the key as a systemd credential (LoadCredential=camera-credentials.key:/etc/...). */
export const SYSTEMD_CREDENTIAL = 'camera-credentials.key';
const KEY_FILE = 'camera-credentials.key';
const TAG_BYTES = 16;

/**
 * Where the key comes from: the configured file, else a systemd credential, else a file in the state folder
 * that is created (mode 0600) the first time a password is stored.
 */
export function credentialsKeyPath(configured: string, stateDir: string, env: NodeJS.ProcessEnv = process.env): { file: string; create: boolean } {
  if (configured) return { file: configured, create: false };
  const credDir = env.CREDENTIALS_DIRECTORY;
  if (credDir && existsSync(path.join(credDir, SYSTEMD_CREDENTIAL))) return { file: path.join(credDir, SYSTEMD_CREDENTIAL), create: false };
  return { file: path.join(stateDir, KEY_FILE), create: true };
}

function keyError(message: string, hint: string): HindsightError {
  return new HindsightError(message, { code: 'credentials_key', hint });
}

/**
 * Seals camera credentials with AES-256-GCM. The camera id is the additional authenticated data, so a sealed
 * blob copied onto another camera's row does not open. The key is loaded lazily: listing cameras never needs it.
 */
export class CredentialVault {
  private key: Buffer | undefined;

  constructor(private readonly location: { file: string; create: boolean }) {}

  private loadKey(forWriting: boolean): Buffer {
    if (this.key) return this.key;
    const { file, create } = this.location;
    if (!existsSync(file)) {
      if (!create || !forWriting) {
        throw keyError(`the camera credentials key ${file} does not exist`, create ? 'set the camera\'s credentials again with `hindsight camera update ID --username U --password-stdin`' : 'restore the key file (or systemd credential) the credentials were stored with');
      }
      const fd = openSync(file, 'wx', 0o600);
      try {
        writeSync(fd, randomBytes(32).toString('hex') + '\n');
      } finally {
        closeSync(fd);
      }
    }
    // Checked and read through one descriptor, never through a link.
    const text = readNoFollow(file, (st) => {
      const mode = st.mode & 0o777;
      if (mode & 0o077) throw keyError(`the camera credentials key ${file} can be read by other users (mode ${mode.toString(8)})`, `run: chmod 600 ${file}`);
    })
      .data.toString('utf8')
      .trim();
    const key = /^[0-9a-f]{64}$/i.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
    if (key.length !== 32) throw keyError(`the camera credentials key ${file} does not hold a 256-bit key`, 'it must contain 64 hexadecimal characters (e.g. from `openssl rand -hex 32`)');
    this.key = key;
    return key;
  }

  /** A short fingerprint of the key, stored with each sealed blob so a swapped key file is named, not guessed. */
  keyId(forWriting = false): string {
    return createHash('sha256').update(this.loadKey(forWriting)).digest('hex').slice(0, 16);
  }

  seal(cameraId: string, credentials: CameraCredentials): SealedCredentials {
    const key = this.loadKey(true);
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    cipher.setAAD(Buffer.from(`hindsight camera ${cameraId}`));
    const body = Buffer.concat([cipher.update(JSON.stringify({ username: credentials.username, password: credentials.password }), 'utf8'), cipher.final()]);
    return { keyId: this.keyId(), nonce, ciphertext: Buffer.concat([body, cipher.getAuthTag()]) };
  }

  open(cameraId: string, sealed: SealedCredentials): CameraCredentials {
    const key = this.loadKey(false);
    if (sealed.keyId !== this.keyId()) {
      throw keyError(`camera ${cameraId}: its credentials were stored with key ${sealed.keyId}, but the key file holds ${this.keyId()}`, 'restore the original key file, or set the credentials again with `hindsight camera update ID --username U --password-stdin`');
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, sealed.nonce);
      decipher.setAAD(Buffer.from(`hindsight camera ${cameraId}`));
      decipher.setAuthTag(sealed.ciphertext.subarray(sealed.ciphertext.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(sealed.ciphertext.subarray(0, sealed.ciphertext.length - TAG_BYTES)), decipher.final()]);
      const parsed = JSON.parse(plain.toString('utf8')) as CameraCredentials;
      return { username: parsed.username, password: parsed.password };
    } catch {
      throw keyError(`camera ${cameraId}: its stored credentials do not decrypt (altered or moved from another camera)`, 'set the credentials again with `hindsight camera update ID --username U --password-stdin`');
    }
  }
}
