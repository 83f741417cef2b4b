import { randomBytes, randomInt, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { sha256 } from '../util/hash.js';

/**
 * Password and PIN hashing with scrypt (node:crypto; no native add-on to build): OWASP's parameters
 * N=2^17, r=8, p=1, a 16-byte salt, a 32-byte key. Stored as `scrypt$N$r$p$salt$key` (base64url), so
 * the parameters can be raised later and old hashes still verify.
 */
const N = 2 ** 17;
const R = 8;
const P = 1;
const KEY_BYTES = 32;

function scrypt(secret: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  const options: ScryptOptions = { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 };
  return new Promise((resolve, reject) => scryptCb(secret.normalize('NFKC'), salt, KEY_BYTES, options, (err, key) => (err ? reject(err) : resolve(key))));
}

export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(secret, salt, N, R, P);
  return ['scrypt', N, R, P, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** A hash of a random secret, verified against when the account does not exist, so both take as long. */
let dummy: Promise<string> | undefined;

/** Whether `secret` matches `stored`; with `stored` undefined (no such account) it spends the same time and says no. */
export async function verifySecret(secret: string, stored: string | undefined): Promise<boolean> {
  const hash = stored ?? (await (dummy ??= hashSecret(randomBytes(16).toString('hex'))));
  const [kind, n, r, p, salt, key] = hash.split('$');
  if (kind !== 'scrypt' || !n || !r || !p || !salt || !key) return false;
  const want = Buffer.from(key, 'base64url');
  const got = await scrypt(secret, Buffer.from(salt, 'base64url'), Number(n), Number(r), Number(p));
  return stored !== undefined && got.length === want.length && timingSafeEqual(got, want);
}

/** A new random token (session id, CSRF token): 32 bytes, base64url. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** What is stored for a token: its SHA-256, so a copy of the database does not hold live session ids. */
export function tokenHash(token: string): string {
  return sha256(token);
}

/** The one-time setup code: 12 digits in groups of four, easy to read out and type. */
export function newSetupCode(): string {
  const digits = Array.from({ length: 12 }, () => String(randomInt(10))).join('');
  return `${digits.slice(0, 4)}-${digits.slice(4, 8)}-${digits.slice(8)}`;
}
