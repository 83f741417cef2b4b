import type { Db } from '../db/db.js';
import { DesiredConfigRepo, type ReportedState } from './db/desired.js';

/**
 * Where each box's desired configuration stands (desired-config.ts issues and publishes it). Apart from
 * the issuer, so that reading the fleet (`fleet list`, the console) does not load the signing and the
 * protocol's schemas.
 */

/** A job's or a box's state of its configuration. */
export type ConfigState = 'applied' | 'pending' | 'rejected' | 'restart_required' | 'none';

export interface BoxConfigView {
  deviceId: string;
  desiredVersion: number | null;
  desired: Record<string, unknown> | null;
  reported: ReportedState | null;
  state: ConfigState;
}

/** Each box's desired and reported configuration, and where it stands. */
export function configView(db: Db, deviceId: string): BoxConfigView {
  const repo = new DesiredConfigRepo(db);
  const latest = repo.latest(deviceId);
  const reported = repo.reported(deviceId) ?? null;
  return { deviceId, desiredVersion: latest?.version ?? null, desired: latest?.config ?? null, reported, state: configState(latest?.version, reported) };
}

/** The state of every box's configuration at once (two queries, not two per box): `of(id)` as configView(db, id).state. */
export function configStates(db: Db): { of(deviceId: string): ConfigState } {
  const repo = new DesiredConfigRepo(db);
  const desired = new Map(repo.latestVersions().map((v) => [v.deviceId, v.version]));
  const reported = new Map(repo.allReported().map((r) => [r.deviceId, r]));
  return { of: (deviceId) => configState(desired.get(deviceId), reported.get(deviceId) ?? null) };
}

function configState(desired: number | undefined, reported: ReportedState | null): ConfigState {
  if (desired === undefined) return 'none';
  if (reported?.rejectedVersion === desired) return 'rejected';
  if (!reported || reported.appliedVersion < desired) return 'pending';
  return reported.restartRequired ? 'restart_required' : 'applied';
}
