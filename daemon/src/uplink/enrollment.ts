import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AuditActor, AuditLog } from '../audit/log.js';
import { generateKeyPair, keyId, readKeyFile, writeKeyFile, writeSecretFile, type KeyPairFile } from '../crypto/keys.js';
import { fromB64u } from '../crypto/encoding.js';
import { verifyKeySet, type SignedKeySet } from '../crypto/keyset.js';
import { EnrollmentBundleSchema, type EnrollmentBundle } from '../protocol/enrollment.js';
import { parsePayload } from '../protocol/schemas.js';
import type { Db } from '../db/db.js';
import { KeySetsRepo } from '../db/repos/key-sets.js';
import type { Clock } from '../util/clock.js';
import { HindsightError } from '../util/errors.js';

/**
 * The box side of enrollment: install a bundle from the force, create the device signing key (once),
 * and keep the force key set (only ever replaced by a newer one signed by the pinned root).
 * Files under <state_dir>: keys/device.key (0600), uplink/enrollment.json (0600), uplink/ca.pem.
 */

export interface UplinkFiles {
  deviceKey: string;
  enrollment: string;
  ca: string;
}

export function uplinkFiles(stateDir: string): UplinkFiles {
  return {
    deviceKey: path.join(stateDir, 'keys', 'device.key'),
    enrollment: path.join(stateDir, 'uplink', 'enrollment.json'),
    ca: path.join(stateDir, 'uplink', 'ca.pem'),
  };
}

export function isEnrolled(stateDir: string): boolean {
  const f = uplinkFiles(stateDir);
  return existsSync(f.enrollment) && existsSync(f.deviceKey);
}

export function readBundle(file: string): EnrollmentBundle {
  let text: Buffer;
  try {
    text = readFileSync(file);
  } catch (err) {
    throw new HindsightError(`cannot read enrollment bundle ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { code: 'bundle_unreadable' });
  }
  return parseBundle(text, file);
}

/** An enrollment bundle from its bytes (a file's, or a request's); `label` names it in the error. */
export function parseBundle(text: Buffer | string, label: string): EnrollmentBundle {
  try {
    return parsePayload(EnrollmentBundleSchema, text, 1024 * 1024);
  } catch (err) {
    throw new HindsightError(`${label} is not a valid enrollment bundle: ${(err as Error).message}`, { code: 'bundle_invalid', hint: 'ask the force for a new bundle (`hindsight force enroll`)' });
  }
}

/** The device's Ed25519 key: created on first use, never overwritten, never logged. */
export function ensureDeviceKey(stateDir: string): { key: KeyPairFile; created: boolean } {
  const file = uplinkFiles(stateDir).deviceKey;
  if (existsSync(file)) return { key: readKeyFile(file, 'ed25519'), created: false };
  const key = generateKeyPair('ed25519');
  writeKeyFile(file, key);
  return { key, created: true };
}

export class KeySetStore {
  private readonly repo: KeySetsRepo;

  constructor(private readonly db: Db) {
    this.repo = new KeySetsRepo(db);
  }

  /** The force root this box pinned at its first enrollment (the root of every key set it installed). */
  pinnedRootKid(): string | undefined {
    return this.repo.latestRootKid();
  }

  /** Forget the pinned root and its key sets (an explicit, audited reset to enroll with a new force root). */
  resetRoot(toKid: string, audit: AuditLog, actor: AuditActor = { type: 'cli', id: 'enroll' }): void {
    this.db.transaction(() => {
      const from = this.pinnedRootKid();
      this.repo.deleteAll();
      audit.append({ actor, action: 'uplink.force_root_reset', objectIds: [toKid], detail: { previous_root_kid: from ?? null, root_kid: toKid } });
    })();
  }

  current(): SignedKeySet | undefined {
    // only key sets verified against the pinned root are ever inserted
    return this.repo.latestSigned() as SignedKeySet | undefined;
  }

  /** Verify against the pinned root and install; audited. Throws KeySetError (old seq, bad signature...). */
  install(signed: unknown, rootPk: string, now: number, audit: AuditLog, actor: string): SignedKeySet {
    return this.db
      .transaction(() => {
        const installed = this.current();
        const ok = verifyKeySet(signed, { rootPk, installedSeq: installed?.keyset.seq, now });
        this.repo.insert({ seq: ok.keyset.seq, rootKid: ok.keyset.root_kid, signed: ok, installedUtc: now });
        audit.append({
          actor: { type: 'cli', id: actor },
          action: 'keyset.installed',
          objectIds: [String(ok.keyset.seq)],
          detail: { seq: ok.keyset.seq, previous_seq: installed?.keyset.seq ?? null, recipients: ok.keyset.recipients.map((r) => r.kid), signers: ok.keyset.signers.map((s) => s.kid) },
        });
        return ok;
      })
      .immediate();
  }
}

export interface InstallResult {
  deviceId: string;
  deviceKid: string;
  devicePublicKey: string;
  keyCreated: boolean;
  keysetSeq: number;
}

export function installBundle(
  bundle: EnrollmentBundle,
  options: { stateDir: string; deviceId: string; db: Db; audit: AuditLog; clock: Clock; resetForceRoot?: boolean; actor?: AuditActor },
): InstallResult {
  const actor = options.actor ?? { type: 'cli', id: 'enroll' };
  if (bundle.device_id !== options.deviceId) {
    throw new HindsightError(`the bundle is for device ${bundle.device_id}, but this box is configured as ${options.deviceId}`, {
      code: 'bundle_wrong_device',
      hint: `set device.id: ${bundle.device_id} in the config, or ask the force for this box's bundle`,
    });
  }
  const rootRaw = fromB64u(bundle.force_root.pk, 'force root key', 32);
  if (keyId(rootRaw) !== bundle.force_root.kid) throw new HindsightError('the bundle root key does not match its kid', { code: 'bundle_invalid' });
  // The root is pinned in the database at the first enrollment: a bundle from another root (a deleted
  // enrollment file, a rogue "force") is refused unless the operator resets the box on purpose.
  const existing = existsSync(uplinkFiles(options.stateDir).enrollment) ? (JSON.parse(readFileSync(uplinkFiles(options.stateDir).enrollment, 'utf8')) as EnrollmentBundle) : undefined;
  const pinned = new KeySetStore(options.db).pinnedRootKid() ?? existing?.force_root.kid;
  if (pinned !== undefined && pinned !== bundle.force_root.kid) {
    if (!options.resetForceRoot) {
      throw new HindsightError(`this box pinned force root key ${pinned} at its first enrollment; the bundle is from root ${bundle.force_root.kid}`, {
        code: 'bundle_root_changed',
        hint: 'if the force really replaced its root key, enroll again with --reset-force-root (audited); otherwise do not install this bundle',
      });
    }
    new KeySetStore(options.db).resetRoot(bundle.force_root.kid, options.audit, actor);
  }
  const files = uplinkFiles(options.stateDir);
  const store = new KeySetStore(options.db);
  const installedSeq = store.current()?.keyset.seq;
  // Re-installing the same bundle (same key set) is fine; anything else must be newer.
  if (installedSeq === undefined || installedSeq !== (bundle.keyset.keyset as { seq?: number }).seq) {
    store.install(bundle.keyset, bundle.force_root.pk, options.clock.now(), options.audit, actor.id);
  }
  const { key, created } = ensureDeviceKey(options.stateDir);
  writeSecretFile(files.enrollment, JSON.stringify(bundle, null, 2) + '\n');
  writeFileSync(files.ca, bundle.mqtt.ca_pem, { mode: 0o644 });
  options.audit.append({
    actor,
    action: 'uplink.enrolled',
    objectIds: [bundle.device_id],
    detail: { broker: bundle.mqtt.url, root_kid: bundle.force_root.kid, device_kid: key.kid, key_created: created },
  });
  return { deviceId: bundle.device_id, deviceKid: key.kid, devicePublicKey: key.pk, keyCreated: created, keysetSeq: store.current()!.keyset.seq };
}

export function loadEnrollment(stateDir: string): EnrollmentBundle {
  return readBundle(uplinkFiles(stateDir).enrollment);
}

/** Remove the bundle copy the installer brought (it holds the MQTT password). */
export function shredBundle(file: string): void {
  rmSync(file, { force: true });
}
