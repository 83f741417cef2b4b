import { Type, type Static } from '@sinclair/typebox';
import { Ajv, type ValidateFunction } from 'ajv';
import { describeValidation } from '../util/validation-words.js';

/**
 * The force-owned part of a box's configuration (PROTOCOL.md "desired config"), shared by the force that
 * writes the desired document and the box that checks and applies it. Only caps and policy the force
 * sets; the shop's cameras, recording and incidents stay the shop's, and no key here (or anywhere) can
 * enable matching or live recognition. A key left out of a document is the box's own configured value.
 */
export const FORCE_CONFIG_KEYS = {
  'incidents.max_window_s': { schema: Type.Integer({ minimum: 10, maximum: 600 }), restart: false, help: 'longest incident window, seconds (10-600)' },
  'incidents.per_device_per_hour': { schema: Type.Integer({ minimum: 1, maximum: 10_000 }), restart: false, help: 'incidents the whole box may log per hour' },
  'buffer.max_hours': { schema: Type.Number({ minimum: 1, maximum: 24 * 90 }), restart: false, help: 'most hours of footage a store manager may keep' },
  crops_only: { schema: Type.Boolean(), restart: false, help: 'true: no embedder, no embeddings in the evidence (crops only)' },
  'uplink.health_interval_s': { schema: Type.Integer({ minimum: 5, maximum: 3600 }), restart: true, help: 'seconds between health documents (applies at the next start)' },
} as const;

export type ForceConfigKey = keyof typeof FORCE_CONFIG_KEYS;

export const ForceConfigSchema = Type.Object(
  {
    'incidents.max_window_s': Type.Optional(FORCE_CONFIG_KEYS['incidents.max_window_s'].schema),
    'incidents.per_device_per_hour': Type.Optional(FORCE_CONFIG_KEYS['incidents.per_device_per_hour'].schema),
    'buffer.max_hours': Type.Optional(FORCE_CONFIG_KEYS['buffer.max_hours'].schema),
    crops_only: Type.Optional(FORCE_CONFIG_KEYS.crops_only.schema),
    'uplink.health_interval_s': Type.Optional(FORCE_CONFIG_KEYS['uplink.health_interval_s'].schema),
  },
  { additionalProperties: false },
);

export type ForceConfig = Static<typeof ForceConfigSchema>;

/** The signed part of a desired document: for one box, a version that only rises, the whole force-owned config. */
export const DesiredDocSchema = Type.Object(
  {
    device_id: Type.String({ pattern: '^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$' }),
    version: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    config: Type.Record(Type.String({ maxLength: 64 }), Type.Unknown()),
    iat: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);

export type DesiredDoc = Static<typeof DesiredDocSchema>;

/** Compiled on first use: a program that never checks a document does not pay for it at start-up. */
let validate: ValidateFunction | undefined;

/** Every problem of a force config, in words ("incidents.max_window_s must be at most 600"); empty when it is valid. */
export function forceConfigErrors(config: unknown): string[] {
  validate ??= new Ajv({ allErrors: true, strict: true, coerceTypes: false, removeAdditional: false, useDefaults: false }).compile(ForceConfigSchema);
  if (validate(config)) return [];
  return (validate.errors ?? []).map((e) => {
    // a key the schema does not know is named as such, with the keys there are
    if (e.keyword === 'additionalProperties') return `${String(e.params.additionalProperty)} is not a force-owned setting (known: ${Object.keys(FORCE_CONFIG_KEYS).join(', ')})`;
    const key = e.instancePath.replace(/^\//, '').replace(/~1/g, '/');
    return describeValidation([{ ...e, instancePath: `/${key}`, params: e.params as Record<string, unknown> }]).replace(/^\//, '');
  });
}

/** Whether applying `next` over `previous` needs a restart of the daemon to take full effect. */
export function needsRestart(previous: ForceConfig, next: ForceConfig): boolean {
  return (Object.keys(FORCE_CONFIG_KEYS) as ForceConfigKey[]).some((k) => FORCE_CONFIG_KEYS[k].restart && previous[k] !== next[k]);
}

/** What a box applies and reports back (`config/reported`). */
export interface AppliedConfig {
  version: number;
  config: ForceConfig;
  sha256: string;
  /** Some applied key takes full effect only after a restart that has not happened yet. */
  restartRequired: boolean;
}

export type DesiredOutcome = { ok: true; applied: AppliedConfig; changed: boolean } | { ok: false; applied: AppliedConfig; errors: string[] };

/** The box's keeper of the applied document (kernel/force-config.ts), as the uplink's handler sees it. */
export interface ForcePolicyPort {
  applied(): AppliedConfig;
  accept(doc: DesiredDoc, by: { type: 'force'; id: string; role?: string }): DesiredOutcome;
}
