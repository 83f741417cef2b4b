import type { Logger } from 'pino';
import type { AuditActor, AuditLog } from '../audit/log.js';
import type { Config } from '../config/schema.js';
import type { Db } from '../db/db.js';
import { MetaRepo } from '../db/repos/meta.js';
import { FORCE_CONFIG_KEYS, forceConfigErrors, needsRestart, type AppliedConfig, type DesiredDoc, type DesiredOutcome, type ForceConfig, type ForceConfigKey } from '../protocol/force-config.js';
import { canonicalBytes } from '../util/canonical.js';
import type { Clock } from '../util/clock.js';
import { sha256 } from '../util/hash.js';
import { FORCE_MAX_HOURS_KEY } from './settings.js';
import type { ForcePolicyPort } from '../protocol/force-config.js';

/**
 * The force-owned configuration a box runs with (the device-shadow pattern of PROTOCOL.md): the desired
 * document the force signed, once checked, is stored with the one it replaces and laid over the config
 * file's values, at once for what can change live and at the next start for the rest. Only the keys of
 * protocol/force-config.ts exist; a key a document leaves out is the config file's value.
 */

const APPLIED = 'force_config.applied';
const PREVIOUS = 'force_config.previous';

interface Stored {
  version: number;
  config: ForceConfig;
  sha256: string;
  restart_required: boolean;
}

export class ForcePolicy implements ForcePolicyPort {
  private readonly meta: MetaRepo;
  /** The config file's values of the force-owned keys, before any document was laid over them. */
  private readonly fileValues: Record<ForceConfigKey, unknown>;

  constructor(private readonly d: { config: Config; db: Db; audit: AuditLog; clock: Clock; log: Logger }) {
    this.meta = new MetaRepo(d.db);
    const c = d.config;
    this.fileValues = {
      'incidents.max_window_s': c.incidents.max_window_s,
      'incidents.per_device_per_hour': c.incidents.per_device_per_hour,
      'buffer.max_hours': undefined,
      crops_only: !c.vision.embeddings,
      'uplink.health_interval_s': c.uplink.health_interval_s,
    };
  }

  /** The document applied now (version 0, empty, when the force never sent one). */
  applied(): AppliedConfig {
    const s = this.read(APPLIED);
    if (!s) return { version: 0, config: {}, sha256: sha256(canonicalBytes({})), restartRequired: false };
    return { version: s.version, config: s.config, sha256: s.sha256, restartRequired: s.restart_required };
  }

  /**
   * At the daemon's start: the stored document over the config file (a restart it needed has now
   * happened). A command-line tool (`daemon: false`) only reads it, to show what the daemon runs with.
   */
  applyStored(options: { daemon: boolean } = { daemon: true }): void {
    const s = this.read(APPLIED);
    if (!s) return;
    this.layOver(s.config);
    if (!options.daemon) return;
    this.writeCaps(s.config);
    if (s.restart_required) this.meta.set(APPLIED, JSON.stringify({ ...s, restart_required: false }));
  }

  /**
   * A desired document whose signature the caller checked: refused whole with every reason (the running
   * configuration untouched), or stored with the one it replaces, audited and applied. The same version
   * again is no change (the retained document comes back at every reconnect); a lower one is refused.
   */
  accept(doc: DesiredDoc, by: AuditActor): DesiredOutcome {
    const current = this.applied();
    if (doc.version === current.version && sha256(canonicalBytes(doc.config)) === current.sha256) return { ok: true, applied: current, changed: false };
    const errors = doc.version <= current.version ? [`version ${doc.version} is not above the applied version ${current.version}`] : forceConfigErrors(doc.config);
    if (errors.length) {
      this.d.audit.append({ actor: by, action: 'config.force_rejected', objectIds: [String(doc.version)], result: 'denied', detail: { version: doc.version, applied_version: current.version, errors } });
      this.d.log.warn({ service: 'force-config', version: doc.version, errors }, `the force's configuration version ${doc.version} is refused; version ${current.version} stays`);
      return { ok: false, applied: current, errors };
    }
    const config = doc.config as ForceConfig;
    const next: Stored = { version: doc.version, config, sha256: sha256(canonicalBytes(config)), restart_required: current.restartRequired || needsRestart(current.config, config) };
    this.d.db.transaction(() => {
      const previous = this.meta.get(APPLIED);
      if (previous) this.meta.set(PREVIOUS, previous);
      this.meta.set(APPLIED, JSON.stringify(next));
      this.writeCaps(config);
      this.d.audit.append({
        actor: by,
        action: 'config.force_applied',
        objectIds: [String(doc.version)],
        detail: { version: doc.version, previous_version: current.version, changed: changedKeys(current.config, config), restart_required: next.restart_required },
      });
    })();
    this.layOver(config);
    this.d.log.info({ service: 'force-config', version: doc.version, config, restart_required: next.restart_required }, `the force's configuration version ${doc.version} is applied`);
    return { ok: true, applied: { version: next.version, config, sha256: next.sha256, restartRequired: next.restart_required }, changed: true };
  }

  /** Each force-owned key of the running configuration: the document's value, else the config file's. */
  private layOver(config: ForceConfig): void {
    const value = <K extends ForceConfigKey>(k: K): unknown => (config[k] !== undefined ? config[k] : this.fileValues[k]);
    const c = this.d.config;
    c.incidents.max_window_s = value('incidents.max_window_s') as number;
    c.incidents.per_device_per_hour = value('incidents.per_device_per_hour') as number;
    c.vision.embeddings = !(value('crops_only') as boolean);
    c.uplink.health_interval_s = value('uplink.health_interval_s') as number;
  }

  /** The caps kept in the database (the buffer's hours, read by the settings and the CLI). */
  private writeCaps(config: ForceConfig): void {
    const hours = config['buffer.max_hours'];
    if (typeof hours === 'number') this.meta.set(FORCE_MAX_HOURS_KEY, String(hours));
    else this.meta.delete(FORCE_MAX_HOURS_KEY);
  }

  private read(key: string): Stored | undefined {
    const text = this.meta.get(key);
    return text ? (JSON.parse(text) as Stored) : undefined;
  }
}

function changedKeys(a: ForceConfig, b: ForceConfig): string[] {
  return (Object.keys(FORCE_CONFIG_KEYS) as ForceConfigKey[]).filter((k) => a[k] !== b[k]);
}
