import type { Db } from '../db/db.js';
import { AuditHeadsRepo, type AuditHeadState } from './db/audit-heads.js';
import { DevicesRepo } from './db/devices.js';
import { FleetRepo } from './db/fleet.js';
import { configStates, configView, type ConfigState } from './config-state.js';

/**
 * The fleet as an admin with 500 boxes scans it (the CLI's `fleet list` and the console's Fleet page):
 * every enrolled box, its presence, the few health figures that matter, its configuration state and its
 * audit log's check. Ids, states, counts and hashes only: no personal data.
 */
export interface FleetLine {
  deviceId: string;
  store: string;
  revoked: boolean;
  /** online / offline (since when), revoked, or never seen. */
  state: 'online' | 'offline' | 'revoked' | 'never seen';
  sinceUtc: number | null;
  version: string | null;
  bootId: string | null;
  bdSeq: number | null;
  healthUtc: number | null;
  /** Its latest health document as the force stored it (JSON text: `fleet list --json` passes it through unparsed). */
  healthJson: string | null;
  cameras: { recording: number; total: number } | null;
  /** The alarms of its latest health document, by kind and subject (with what to do, when the box says). */
  alarms: { kind: string; subject: string; message?: string }[];
  freeDiskBytes: number | null;
  config: ConfigState;
  audit: AuditHeadState | null;
}

/** Every enrolled box's line, or the one box `only` names (an empty list when it is not enrolled). */
export function fleetLines(db: Db, only?: string): FleetLine[] {
  const fleet = new FleetRepo(db);
  const enrolled = new DevicesRepo(db);
  const heads = new AuditHeadsRepo(db);
  const devices = only === undefined ? enrolled.list() : [enrolled.get(only)].filter((d) => d !== undefined);
  const presence = new Map(fleet.summaries(only).map((b) => [b.deviceId, b]));
  // the whole fleet in a few queries (a thousand boxes), one box by its own rows
  const config = only === undefined ? configStates(db) : { of: (id: string) => configView(db, id).state };
  const auditHeads = new Map((only === undefined ? heads.list() : [heads.get(only)].filter((a) => a !== undefined)).map((a) => [a.deviceId, a]));
  return devices.map((d): FleetLine => {
    const b = presence.get(d.id);
    const alarms = b?.alarmsJson
      ? (JSON.parse(b.alarmsJson) as { kind?: unknown; subject?: unknown; message?: unknown }[]).map((a) => ({ kind: String(a.kind ?? '?'), subject: String(a.subject ?? ''), ...(typeof a.message === 'string' ? { message: a.message } : {}) }))
      : [];
    return {
      deviceId: d.id,
      store: d.store,
      revoked: d.revoked,
      state: d.revoked ? 'revoked' : (b?.state ?? 'never seen'),
      sinceUtc: b?.sinceUtc ?? null,
      version: b?.version || null,
      bootId: b?.bootId ?? null,
      bdSeq: b?.bdSeq ?? null,
      healthUtc: b?.healthUtc ?? null,
      healthJson: b?.healthJson ?? null,
      cameras: b?.camerasTotal != null ? { recording: b.camerasRecording ?? 0, total: b.camerasTotal } : null,
      alarms,
      freeDiskBytes: b?.freeDiskBytes ?? null,
      config: config.of(d.id),
      audit: auditHeads.get(d.id) ?? null,
    };
  });
}

/** The audit log's check in one word: ok (its heads extend each other), ALARM (why: in the details), or - (no head yet). */
export const auditWord = (a: AuditHeadState | null): string => (!a ? '-' : a.status === 'alarm' ? 'ALARM' : 'ok');
