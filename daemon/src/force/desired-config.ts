import type { Logger } from 'pino';
import type { AuditActor, AuditLog } from '../audit/log.js';
import { SIG_CONTEXT, signWith, type KeyPairFile } from '../crypto/keys.js';
import type { Db } from '../db/db.js';
import { FORCE_CONFIG_KEYS, forceConfigErrors, type DesiredDoc } from '../protocol/force-config.js';
import { checkPayload, DesiredConfigPayload, parsePayload, ReportedConfigPayload, type DesiredConfigMessage } from '../protocol/schemas.js';
import { DeviceTopics } from '../protocol/topics.js';
import { canonicalBytes } from '../util/canonical.js';
import type { Clock } from '../util/clock.js';
import { errorMessage, UsageError } from '../util/errors.js';
import { isSafeId, newId } from '../util/ids.js';
import { DesiredConfigRepo, type DesiredVersion } from './db/desired.js';
import { DeviceRegistry } from './registry.js';
import { fromEnrolledBox } from './fleet.js';

/**
 * The force's side of each box's desired configuration (the device-shadow pattern of PROTOCOL.md): an
 * admin's change becomes, per box, a new signed version of the whole force-owned configuration, kept in
 * the database and published retained by a receiver; the box applies it and reports `applied_version`
 * (or refuses it with its reasons), which the receiver records. A rollback is a new version carrying the
 * previous version's configuration, so a box that was offline converges on it like any other.
 */

export { configView, type BoxConfigView, type ConfigState } from './config-state.js';

/** Which boxes a target names: one box, `all` (every enrolled box not revoked), or `group:NAME`. */
export function resolveTargets(db: Db, target: string): string[] {
  const registry = new DeviceRegistry(db);
  const live = new Set(registry.list().filter((d) => !d.revoked).map((d) => d.id));
  if (target === 'all') {
    if (!live.size) throw new UsageError('no box is enrolled with this force');
    return [...live];
  }
  if (target.startsWith('group:')) {
    const name = target.slice(6);
    const members = new DesiredConfigRepo(db).group(name).filter((id) => live.has(id));
    if (!members.length) throw new UsageError(`group ${JSON.stringify(name.slice(0, 64))} has no enrolled box that is not revoked`, { hint: '`hindsight-force fleet group list` shows the groups' });
    return members;
  }
  return [target];
}

/** A group's name: letters, digits, '-', '_' (it appears in targets as group:NAME). */
export function assertGroupName(name: string): string {
  if (isSafeId(name)) return name;
  throw new UsageError(`group name ${JSON.stringify(String(name).slice(0, 64))} may hold letters, digits, '-' and '_' only (up to 64)`);
}

export class ConfigIssuer {
  private readonly repo: DesiredConfigRepo;
  private readonly registry: DeviceRegistry;

  constructor(private readonly d: { db: Db; audit: AuditLog; key: KeyPairFile; clock: Clock }) {
    this.repo = new DesiredConfigRepo(d.db);
    this.registry = new DeviceRegistry(d.db);
  }

  /**
   * Change some keys of each box's desired configuration (null: back to the box's own value). Checked
   * here first, so an admin sees every mistake before anything is sent. One job for all the boxes.
   */
  set(deviceIds: string[], changes: Record<string, unknown>, by: AuditActor): { jobId: string; versions: DesiredVersion[] } {
    return this.issue(deviceIds, by, 'fleet.config_set', (current) => {
      const next = { ...current };
      for (const [k, v] of Object.entries(changes)) {
        if (v === null) delete next[k];
        else next[k] = v;
      }
      return next;
    });
  }

  /** Each box back to the configuration of the version before its latest, as a new version. */
  rollback(deviceIds: string[], by: AuditActor): { jobId: string; versions: DesiredVersion[] } {
    return this.issue(deviceIds, by, 'fleet.config_rollback', (_current, latest, deviceId) => {
      if (!latest || latest.version < 2) throw new UsageError(`box ${deviceId} has no earlier configuration version to go back to`, { hint: `\`hindsight-force fleet config ${deviceId} get\` shows its version` });
      return this.repo.version(latest.deviceId, latest.version - 1)!.config;
    });
  }

  private issue(
    deviceIds: string[],
    by: AuditActor,
    action: string,
    next: (current: Record<string, unknown>, latest: DesiredVersion | undefined, deviceId: string) => Record<string, unknown>,
  ): { jobId: string; versions: DesiredVersion[] } {
    const jobId = `j${newId()}`;
    return this.d.db
      .transaction(() => {
        const versions = deviceIds.map((deviceId) => {
          const device = this.registry.get(deviceId);
          if (!device) throw new UsageError(`box ${JSON.stringify(deviceId.slice(0, 64))} is not enrolled with this force`, { hint: '`hindsight-force fleet list` shows the boxes' });
          if (device.revoked) throw new UsageError(`box ${deviceId} is revoked: it is sent nothing`);
          const latest = this.repo.latest(deviceId);
          const config = next(latest?.config ?? {}, latest, deviceId);
          const errors = forceConfigErrors(config);
          if (errors.length) throw new UsageError(`the configuration for ${deviceId} is not valid: ${errors.join('; ')}`, { hint: `force-owned settings: ${Object.entries(FORCE_CONFIG_KEYS).map(([k, v]) => `${k} (${v.help})`).join(', ')}` });
          const doc: DesiredDoc = { device_id: deviceId, version: (latest?.version ?? 0) + 1, config, iat: this.d.clock.now() };
          const signed: DesiredConfigMessage = checkPayload(DesiredConfigPayload, { doc, kid: this.d.key.kid, sig: signWith(this.d.key, SIG_CONTEXT.config, canonicalBytes(doc)) });
          const v = { deviceId, version: doc.version, config, signed: JSON.stringify(signed), createdUtc: doc.iat, createdBy: by.id, jobId };
          this.repo.insert(v);
          this.d.audit.append({ actor: by, action, objectIds: [deviceId, String(doc.version), jobId], detail: { version: doc.version, config } });
          return this.repo.version(deviceId, doc.version)!;
        });
        return { jobId, versions };
      })
      .immediate();
  }
}

/** Publishes new desired versions (retained) and records what boxes report (runs in the receiver). */
export class ConfigSync {
  private readonly repo: DesiredConfigRepo;
  private readonly registry: DeviceRegistry;
  private busy = false;

  constructor(
    private readonly d: { db: Db; prefix: string; clock: Clock; log: Logger; publishRetained: (topic: string, payload: string) => Promise<void> },
  ) {
    this.repo = new DesiredConfigRepo(d.db);
    this.registry = new DeviceRegistry(d.db);
  }

  async publishDue(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (const v of this.repo.unpublished(50)) {
        // an older version queued behind a newer one of the same box is never sent: the retained one is the newest
        const latest = this.repo.latest(v.deviceId)!;
        if (latest.version === v.version) {
          try {
            await this.d.publishRetained(new DeviceTopics(this.d.prefix, v.deviceId).configDesired(), v.signed);
          } catch (err) {
            this.d.log.warn({ device: v.deviceId, version: v.version, err: errorMessage(err) }, 'cannot publish a desired configuration now; trying again');
            break;
          }
          this.d.log.info({ device: v.deviceId, version: v.version }, 'desired configuration published');
        }
        this.repo.markPublished(v.deviceId, v.version, this.d.clock.now());
      }
    } finally {
      this.busy = false;
    }
  }

  /** True when the topic was a configuration report (recorded or dropped), false for anything else. */
  handle(topic: string, payload: Buffer): boolean {
    const t = fromEnrolledBox(this.d, this.registry, topic, payload, ['configReported']);
    if (typeof t === 'string') return t === 'dropped';
    try {
      const r = parsePayload(ReportedConfigPayload, payload, 64 * 1024);
      this.repo.setReported({
        deviceId: t.device,
        appliedVersion: r.applied_version,
        sha256: r.sha256,
        restartRequired: r.restart_required,
        rejectedVersion: r.rejected_version ?? null,
        errors: r.errors ?? null,
        reportedUtc: this.d.clock.now(),
      });
      if (r.errors?.length) this.d.log.warn({ device: t.device, rejected_version: r.rejected_version, errors: r.errors }, `box ${t.device} refused configuration version ${r.rejected_version ?? '?'}`);
    } catch (err) {
      this.d.log.warn({ device: t.device, err: errorMessage(err) }, 'malformed configuration report dropped');
    }
    return true;
  }
}
