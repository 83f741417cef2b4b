import type { Logger } from 'pino';
import type { AuditActor, AuditLog } from '../audit/log.js';
import type { Config } from '../config/schema.js';
import type { Db } from '../db/db.js';
import { MetaRepo } from '../db/repos/meta.js';
import type { Clock } from '../util/clock.js';
import { UsageError } from '../util/errors.js';

/**
 * The box's settings a store manager may change from the console, within the caps the force (or the
 * installer's config file) sets. Everything else in the config is the installer's or the force's.
 *
 * A manager's value is kept in the database (`meta`, key `setting:<key>`), never written into the config
 * file, and laid over the loaded config object at start and at every change. The services read these
 * values from that object when they use them (a window when an incident is logged, the buffer's hours at
 * every retention pass), so a change applies at once without a restart. The file's value stays the
 * default a manager can go back to.
 */

/** Meta key where the force's maximum buffer duration (hours) is kept when it sets one. */
export const FORCE_MAX_HOURS_KEY = 'buffer.force_max_hours';

export const SETTING_KEYS = ['buffer.hours', 'incidents.window_before_s', 'incidents.window_after_s', 'incidents.press_expiry_min', 'incidents.per_user_per_hour'] as const;
export type SettingKey = (typeof SETTING_KEYS)[number];

interface SettingSpec {
  key: SettingKey;
  /** What the manager sees, in plain words. */
  label: string;
  help: string;
  unit: 'hours' | 'seconds' | 'minutes' | 'incidents';
  integer: boolean;
  min: number;
  /** The highest value allowed now, and who set that limit. */
  max(config: Config, meta: MetaRepo): { value: number; setBy: 'force' | 'box' };
  read(config: Config): number;
  write(config: Config, value: number): void;
}

/** The force's lower maximum of the buffer's hours, when it has set one. */
export function forceMaxHours(meta: MetaRepo): number | undefined {
  const v = Number(meta.get(FORCE_MAX_HOURS_KEY) ?? NaN);
  return Number.isFinite(v) && v > 0 ? v : undefined;
}

/** The longest incident window: `incidents.max_window_s` (the force's cap on windows), never above 600 s. */
const windowCap = (config: Config): { value: number; setBy: 'force' } => ({ value: Math.min(config.incidents.max_window_s, 600), setBy: 'force' });

/** The footage an incident takes by default on one side of its moment, capped by the force's longest window. */
function windowSpec(side: 'before' | 'after'): SettingSpec {
  const field = `window_${side}_s` as const;
  return {
    key: `incidents.${field}`,
    label: `Footage ${side} the moment of an incident`,
    help: `How much footage from ${side} the time staff give is sent with an incident.`,
    unit: 'seconds',
    integer: true,
    min: 0,
    max: windowCap,
    read: (c) => c.incidents[field],
    write: (c, v) => (c.incidents[field] = v),
  };
}

const SPECS: readonly SettingSpec[] = [
  {
    key: 'buffer.hours',
    label: 'Keep recordings for',
    help: 'Older footage is deleted unless an incident holds it. Shorter keeps less about people; longer gives staff more time to report an incident.',
    unit: 'hours',
    integer: false,
    min: 1,
    max: (_config, meta) => {
      const force = forceMaxHours(meta);
      return force === undefined ? { value: 720, setBy: 'box' } : { value: force, setBy: 'force' };
    },
    read: (c) => c.buffer.hours,
    write: (c, v) => (c.buffer.hours = v),
  },
  windowSpec('before'),
  windowSpec('after'),
  {
    key: 'incidents.press_expiry_min',
    label: 'A button press waits for its reason for',
    help: 'After this, a hardware button press nobody completed on the staff page is dropped and its footage is no longer held.',
    unit: 'minutes',
    integer: true,
    min: 1,
    max: () => ({ value: 24 * 60, setBy: 'box' }),
    read: (c) => c.incidents.press_expiry_min,
    write: (c, v) => (c.incidents.press_expiry_min = v),
  },
  {
    key: 'incidents.per_user_per_hour',
    label: 'Incidents one person or button may log per hour',
    help: 'Stops a mistaken or misused account from flooding the force; the whole shop may log at most the limit shown.',
    unit: 'incidents',
    integer: true,
    min: 1,
    max: (c) => ({ value: c.incidents.per_device_per_hour, setBy: 'force' }),
    read: (c) => c.incidents.per_user_per_hour,
    write: (c, v) => (c.incidents.per_user_per_hour = v),
  },
];

const PREFIX = 'setting:';

export interface SettingView {
  key: SettingKey;
  label: string;
  help: string;
  unit: SettingSpec['unit'];
  integer: boolean;
  value: number;
  /** The config file's value: what "back to the default" gives. */
  default: number;
  min: number;
  max: number;
  /** Who set the maximum: the force (a cap the box cannot raise) or the box's own range. */
  max_set_by: 'force' | 'box';
  /** True when a manager's value is in use (not the config file's). */
  changed: boolean;
}

export class BoxSettings {
  private readonly meta: MetaRepo;
  /** The config file's values, before any manager's value was laid over them. */
  private readonly fileValues: Record<SettingKey, number>;

  constructor(private readonly d: { config: Config; db: Db; audit: AuditLog; clock: Clock; log: Logger }) {
    this.meta = new MetaRepo(d.db);
    this.fileValues = Object.fromEntries(SPECS.map((s) => [s.key, s.read(d.config)])) as Record<SettingKey, number>;
  }

  /**
   * At start, and whenever the force's caps change: the managers' stored values over the config. One the
   * caps no longer allow (the force lowered a cap since) is used at the cap, and the log says so; the
   * stored value is kept for when the cap rises.
   */
  applyStored(): void {
    for (const s of SPECS) {
      const stored = this.stored(s.key);
      // the config file's value is held to the caps too (the force may lower one below it at any time);
      // the lower end of a setting's range is the console's, for managers: a config file may go below it
      const wanted = stored ?? this.fileValues[s.key];
      const { value: max } = s.max(this.d.config, this.meta);
      const used = Math.min(stored === undefined ? wanted : Math.max(wanted, s.min), max);
      if (used !== wanted) this.d.log.warn({ service: 'settings', setting: s.key, wanted, used }, `setting ${s.key}: ${stored === undefined ? 'the configured' : "the manager's"} ${wanted} is outside what is allowed now; using ${used}`);
      s.write(this.d.config, used);
    }
    this.checkWindow(this.d.config.incidents.window_before_s, this.d.config.incidents.window_after_s, true);
  }

  list(): SettingView[] {
    return SPECS.map((s) => {
      const max = s.max(this.d.config, this.meta);
      return {
        key: s.key,
        label: s.label,
        help: s.help,
        unit: s.unit,
        integer: s.integer,
        value: s.read(this.d.config),
        default: this.fileValues[s.key],
        min: s.min,
        max: max.value,
        max_set_by: max.setBy,
        changed: this.stored(s.key) !== undefined,
      };
    });
  }

  /**
   * Change some settings at once (all or none): each value checked against its range and the force's caps,
   * stored, applied, and audited with its old and new value. `null` goes back to the config file's value.
   */
  change(values: Partial<Record<string, number | null>>, by: AuditActor): SettingView[] {
    const next = new Map<SettingSpec, number | null>();
    for (const [key, value] of Object.entries(values)) {
      const s = SPECS.find((x) => x.key === key);
      if (!s) throw new UsageError(`${key} is not a setting the console can change`, { hint: `settings: ${SPECS.map((x) => x.key).join(', ')}` });
      if (value === null || value === undefined) {
        next.set(s, null);
        continue;
      }
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new UsageError(`${s.label} must be a number`);
      if (s.integer && !Number.isInteger(value)) throw new UsageError(`${s.label} must be a whole number of ${s.unit}`);
      const max = s.max(this.d.config, this.meta);
      if (value < s.min) throw new UsageError(`${s.label} must be at least ${s.min} ${s.unit}`);
      if (value > max.value) {
        throw new UsageError(`${s.label} may be at most ${max.value} ${s.unit}${max.setBy === 'force' ? ', a limit set by the police force' : ''}`, {
          hint: max.setBy === 'force' ? 'The force sets this limit; the box cannot go above it' : undefined,
        });
      }
      next.set(s, value);
    }
    const valueAfter = (key: SettingKey): number => {
      const s = SPECS.find((x) => x.key === key)!;
      const v = next.has(s) ? next.get(s) : undefined;
      return v === undefined ? s.read(this.d.config) : v === null ? Math.min(this.fileValues[key], s.max(this.d.config, this.meta).value) : v;
    };
    this.checkWindow(valueAfter('incidents.window_before_s'), valueAfter('incidents.window_after_s'), false);

    this.d.db.transaction(() => {
      for (const [s, v] of next) {
        const stored = this.stored(s.key);
        if (v === null ? stored === undefined : stored === v) continue; // nothing changes
        if (v === null) this.meta.delete(PREFIX + s.key);
        else this.meta.set(PREFIX + s.key, String(v));
        this.d.audit.append({ actor: by, action: 'settings.changed', objectIds: [s.key], detail: { from: s.read(this.d.config), to: valueAfter(s.key), ...(v === null ? { back_to_default: true } : {}) } });
      }
    })();
    // applied only once stored and audited
    for (const s of next.keys()) s.write(this.d.config, valueAfter(s.key));
    return this.list();
  }

  private stored(key: SettingKey): number | undefined {
    const v = this.meta.get(PREFIX + key);
    if (v === undefined) return undefined;
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }

  /** Before + after may not exceed the longest window (a logged incident would be refused). */
  private checkWindow(before: number, after: number, atStart: boolean): void {
    const cap = windowCap(this.d.config).value;
    if (before + after <= cap) return;
    if (atStart) {
      // the force lowered its cap below the stored pair: shorten the part after the moment first
      this.d.config.incidents.window_after_s = Math.max(0, cap - before);
      this.d.config.incidents.window_before_s = Math.min(before, cap);
      this.d.log.warn({ service: 'settings' }, `incident window ${before}+${after} s is above the force's cap of ${cap} s; using ${this.d.config.incidents.window_before_s}+${this.d.config.incidents.window_after_s} s`);
      return;
    }
    throw new UsageError(`footage before and after the moment together may be at most ${cap} seconds (a limit set by the police force); ${before} + ${after} is more`, { hint: 'Lower one of the two' });
  }
}
