import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { generateKeyPair, publicInfo, readKeyFile, writeKeyFile, writeSecretFile, type KeyPairFile } from '../crypto/keys.js';
import { signKeySet, validRecipients, verifyKeySet, type KeySetBody, type SignedKeySet } from '../crypto/keyset.js';
import { HindsightError } from '../util/errors.js';
import { FORCE_SERVICE_USER, mosquittoPasswordLine, upsertPasswdLine } from './broker-kit.js';
import { forcePaths } from './paths.js';

const DAY = 86_400_000;

export interface KeygenOptions {
  now: number;
  validityDays: number;
  brokerUrl?: string;
  caFile?: string;
  prefix?: string;
}

export interface KeygenResult {
  root: KeyPairFile;
  keyset: SignedKeySet;
  config: string;
}

/**
 * Create a force installation: root key (signs key sets; keep it offline after enrolling boxes),
 * an X25519 recipient key, the receipt-signing key, a command-issuer key, key set seq 1, the force
 * service's MQTT password, and a starting force.yaml. Refuses to overwrite an existing root.
 */
export function forceKeygen(dir: string, o: KeygenOptions): KeygenResult {
  const p = forcePaths(dir);
  if (existsSync(p.rootKey)) {
    throw new HindsightError(`${p.rootKey} already exists`, { code: 'force_exists', hint: 'keys are never overwritten; use `hindsight force rotate` for a new recipient key' });
  }
  const root = generateKeyPair('ed25519');
  const recipient = generateKeyPair('x25519');
  const receipt = generateKeyPair('ed25519');
  const command = generateKeyPair('ed25519');
  writeKeyFile(p.rootKey, root);
  writeKeyFile(path.join(p.keysDir, `recipient-${recipient.kid}.key`), recipient);
  writeKeyFile(p.receiptKey, receipt);
  writeKeyFile(p.commandKey, command);
  const until = o.now + o.validityDays * DAY;
  const body: KeySetBody = {
    v: 1,
    schema: 'hindsight-keyset/1',
    seq: 1,
    issued_at: o.now,
    root_kid: root.kid,
    recipients: [{ kid: recipient.kid, pk: recipient.pk, not_before: o.now - DAY, not_after: until }],
    signers: [
      { kid: receipt.kid, pk: receipt.pk, role: 'receipt', not_before: o.now - DAY, not_after: until },
      { kid: command.kid, pk: command.pk, role: 'command-admin', not_before: o.now - DAY, not_after: until },
    ],
  };
  const keyset = signKeySet(body, root);
  writeSecretFile(p.keyset, JSON.stringify(keyset, null, 2) + '\n');
  const password = randomBytes(24).toString('base64url');
  writeSecretFile(p.mqttPassword, password + '\n');
  upsertPasswdLine(p.brokerPasswd, mosquittoPasswordLine(FORCE_SERVICE_USER, password), 'service');
  const config = {
    force: { dir: '.', prefix: o.prefix ?? 'hindsight/v1' },
    mqtt: { url: o.brokerUrl ?? 'mqtts://broker.example:8883', ca_file: o.caFile ?? 'broker/ca.pem', username: FORCE_SERVICE_USER, password_file: path.relative(p.dir, p.mqttPassword) },
    log: { level: 'info', pretty: 'auto' },
  };
  if (!existsSync(p.config)) writeSecretFile(p.config, `# written by \`hindsight force keygen\`; see \`hindsight force receive --help\`\n${stringify(config)}`);
  return { root, keyset, config: p.config };
}

export function loadKeySet(dir: string): SignedKeySet {
  const p = forcePaths(dir);
  try {
    return JSON.parse(readFileSync(p.keyset, 'utf8')) as SignedKeySet;
  } catch {
    throw new HindsightError(`no key set at ${p.keyset}`, { code: 'force_no_keyset', hint: 'run `hindsight force keygen --dir DIR` first' });
  }
}

/** Every recipient private key held here (old ones stay, so evidence sealed before a rotation still opens). */
export function loadRecipientKeys(dir: string): KeyPairFile[] {
  const keysDir = forcePaths(dir).keysDir;
  if (!existsSync(keysDir)) return [];
  return readdirSync(keysDir)
    .filter((f) => /^recipient-[0-9a-f]{16}\.key$/.test(f))
    .map((f) => readKeyFile(path.join(keysDir, f), 'x25519'));
}

export function loadReceiptKey(dir: string): KeyPairFile {
  return readKeyFile(forcePaths(dir).receiptKey, 'ed25519');
}

export function loadRootKey(dir: string): KeyPairFile {
  return readKeyFile(forcePaths(dir).rootKey, 'ed25519');
}

/**
 * Rotation: a new recipient key joins the set (seq + 1); the old one stays valid for `overlapDays`
 * so boxes that have not yet fetched the new set can still seal, and its private key is kept.
 */
export function rotateRecipientKey(dir: string, o: { now: number; overlapDays: number; validityDays: number }): SignedKeySet {
  const p = forcePaths(dir);
  const root = loadRootKey(dir);
  const current = verifyKeySet(loadKeySet(dir), { rootPk: root.pk, now: o.now });
  const fresh = generateKeyPair('x25519');
  writeKeyFile(path.join(p.keysDir, `recipient-${fresh.kid}.key`), fresh);
  const body: KeySetBody = {
    ...current.keyset,
    seq: current.keyset.seq + 1,
    issued_at: o.now,
    recipients: [
      ...current.keyset.recipients.filter((r) => r.not_after > o.now).map((r) => ({ ...r, not_after: Math.min(r.not_after, o.now + o.overlapDays * DAY) })),
      { ...publicInfo(fresh), not_before: o.now, not_after: o.now + o.validityDays * DAY },
    ].map(({ kid, pk, not_before, not_after }) => ({ kid, pk, not_before, not_after })),
    // the receipt and command signers are renewed with it: a set whose signers lapsed would leave every box
    // refusing receipts and commands, the set_key_set that could mend it included
    signers: current.keyset.signers.map((s) => ({ ...s, not_after: Math.max(s.not_after, o.now + o.validityDays * DAY) })),
  };
  const signed = signKeySet(body, root);
  writeSecretFile(p.keyset, JSON.stringify(signed, null, 2) + '\n');
  return signed;
}

/**
 * Withdraw a recipient key (e.g. its private key may have leaked): a new set (seq + 1) without it, its kid
 * listed as revoked with the time, so boxes stop sealing to it and the force refuses what is sealed to it
 * from now on. Its private key stays, so evidence sealed before the revocation still opens.
 */
export function revokeRecipientKey(dir: string, o: { kid: string; now: number }): SignedKeySet {
  const root = loadRootKey(dir);
  const current = verifyKeySet(loadKeySet(dir), { rootPk: root.pk, now: o.now });
  const known = new Set(loadRecipientKeys(dir).map((k) => k.kid));
  if (!known.has(o.kid)) throw new HindsightError(`recipient key ${o.kid} was never issued by this force`, { code: 'unknown_key', hint: 'list the recipient kids with: cat keys/keyset.json' });
  const body: KeySetBody = {
    ...current.keyset,
    seq: current.keyset.seq + 1,
    issued_at: o.now,
    recipients: current.keyset.recipients.filter((r) => r.kid !== o.kid),
    revoked: [...new Set([...(current.keyset.revoked ?? []), o.kid])],
    revoked_at: { ...(current.keyset.revoked_at ?? {}), [o.kid]: o.now },
  };
  if (validRecipients(body, o.now).length === 0) {
    throw new HindsightError(`recipient key ${o.kid} is the only valid one`, { code: 'last_recipient', hint: 'run `hindsight force rotate` first, then revoke the old key' });
  }
  const signed = signKeySet(body, root);
  writeSecretFile(forcePaths(dir).keyset, JSON.stringify(signed, null, 2) + '\n');
  return signed;
}
