import { canonicalBytes } from '../util/canonical.js';
import { HindsightError } from '../util/errors.js';
import { fromB64u } from './encoding.js';
import { isSmallOrderX25519, keyId, SIG_CONTEXT, signWith, verifyWith, type KeyPairFile } from './keys.js';

/**
 * The force's key set: the HPKE recipient keys evidence is sealed to, and the Ed25519 keys that sign
 * receipts and commands. Signed by the force root key that the box pinned at enrollment; a box accepts
 * only a set with a higher `seq` than the one it holds, so an old (possibly compromised) set cannot be
 * replayed onto it. Validity windows overlap during rotation: the box seals to every key valid now.
 */

export type SignerRole = 'receipt' | 'command-admin' | 'command-operator';

export interface RecipientKey {
  kid: string;
  /** X25519 raw public key, base64url */
  pk: string;
  not_before: number;
  not_after: number;
}

export interface SignerKey {
  kid: string;
  /** Ed25519 raw public key, base64url */
  pk: string;
  role: SignerRole;
  not_before: number;
  not_after: number;
}

export interface KeySetBody {
  v: 1;
  schema: 'hindsight-keyset/1';
  seq: number;
  issued_at: number;
  root_kid: string;
  recipients: RecipientKey[];
  signers: SignerKey[];
  /** Key ids the force has withdrawn (e.g. a lost command-issuer key); refused even if listed above. */
  revoked?: string[];
  /** When each revoked key was withdrawn (ms): the force refuses what was sealed to it from then on. */
  revoked_at?: Record<string, number>;
}

export interface SignedKeySet {
  keyset: KeySetBody;
  sig: string;
}

export class KeySetError extends HindsightError {
  constructor(
    message: string,
    readonly reason: string,
  ) {
    super(message, { code: `keyset_${reason}` });
  }
}

export function signKeySet(body: KeySetBody, root: KeyPairFile): SignedKeySet {
  if (root.kid !== body.root_kid) throw new KeySetError('the key set names another root key', 'root_mismatch');
  return { keyset: body, sig: signWith(root, SIG_CONTEXT.keyset, canonicalBytes(body)) };
}

export interface VerifyKeySetOptions {
  /** The pinned root public key (base64url raw Ed25519). */
  rootPk: string;
  /** The seq of the set already installed; a new set must be strictly higher. */
  installedSeq?: number;
  now: number;
}

/** Check a key set completely before anything trusts it; throws KeySetError with the reason. */
export function verifyKeySet(signed: unknown, options: VerifyKeySetOptions): SignedKeySet {
  const s = signed as Partial<SignedKeySet> | null;
  const body = s?.keyset;
  if (!s || typeof s !== 'object' || !body || typeof body !== 'object' || typeof s.sig !== 'string') {
    throw new KeySetError('not a signed key set (no root signature)', 'unsigned');
  }
  if (body.v !== 1 || body.schema !== 'hindsight-keyset/1') throw new KeySetError('unknown key set version', 'version');
  const rootKid = keyId(fromB64u(options.rootPk, 'root key', 32));
  if (body.root_kid !== rootKid) throw new KeySetError(`key set is signed for root ${String(body.root_kid)}, not the pinned root ${rootKid}`, 'root_mismatch');
  if (!verifyWith(options.rootPk, SIG_CONTEXT.keyset, s.sig, canonicalBytes(body))) {
    throw new KeySetError('the key set signature does not verify against the pinned root key', 'bad_signature');
  }
  if (!Number.isSafeInteger(body.seq) || body.seq < 1) throw new KeySetError('key set seq must be a positive integer', 'seq');
  if (options.installedSeq !== undefined && body.seq <= options.installedSeq) {
    throw new KeySetError(`key set seq ${body.seq} is not newer than the installed seq ${options.installedSeq}`, 'old_seq');
  }
  if (!Array.isArray(body.recipients) || !Array.isArray(body.signers)) throw new KeySetError('key set lists are missing', 'shape');
  for (const r of body.recipients) {
    const raw = fromB64u(r.pk, 'recipient key', 32);
    if (keyId(raw) !== r.kid) throw new KeySetError(`recipient kid ${r.kid} does not match its key`, 'kid_mismatch');
    if (isSmallOrderX25519(raw)) throw new KeySetError(`recipient ${r.kid} is a small-order X25519 key`, 'small_order');
    if (!(r.not_before < r.not_after)) throw new KeySetError(`recipient ${r.kid} has an empty validity window`, 'validity');
  }
  const revoked = new Set(body.revoked ?? []);
  const withdrawn = body.recipients.filter((r) => revoked.has(r.kid)).map((r) => r.kid);
  if (withdrawn.length) throw new KeySetError(`key set lists revoked recipient key(s) ${withdrawn.join(', ')}`, 'revoked_recipient');
  for (const k of body.signers) {
    if (keyId(fromB64u(k.pk, 'signer key', 32)) !== k.kid) throw new KeySetError(`signer kid ${k.kid} does not match its key`, 'kid_mismatch');
  }
  if (validRecipients(body, options.now).length === 0) {
    throw new KeySetError('no recipient key of this key set is valid now (expired or not yet valid)', 'expired');
  }
  return s as SignedKeySet;
}

/** Every recipient key valid at `now` and not revoked: evidence is sealed to all of them (rotation overlap). */
export function validRecipients(body: KeySetBody, now: number): RecipientKey[] {
  return body.recipients.filter((r) => r.not_before <= now && now < r.not_after && !body.revoked?.includes(r.kid));
}

/** The signer with this kid and role, valid now, or undefined. */
export function trustedSigner(body: KeySetBody, kid: string, role: SignerRole, now: number): SignerKey | undefined {
  if (body.revoked?.includes(kid)) return undefined;
  return body.signers.find((k) => k.kid === kid && k.role === role && k.not_before <= now && now < k.not_after);
}
