import type { Db } from '../../db/db.js';
import { statement } from '../../db/statements.js';

/** One version of a box's desired force-owned configuration. */
export interface DesiredVersion {
  deviceId: string;
  version: number;
  config: Record<string, unknown>;
  signed: string;
  createdUtc: number;
  createdBy: string;
  jobId: string | null;
  publishedUtc: number | null;
}

/** What a box last reported about its configuration. */
export interface ReportedState {
  deviceId: string;
  appliedVersion: number;
  sha256: string;
  restartRequired: boolean;
  rejectedVersion: number | null;
  errors: string[] | null;
  reportedUtc: number;
}

interface DesiredRow {
  device_id: string;
  version: number;
  config: string;
  signed: string;
  created_utc: number;
  created_by: string;
  job_id: string | null;
  published_utc: number | null;
}

const desired = (r: DesiredRow): DesiredVersion => ({
  deviceId: r.device_id,
  version: r.version,
  config: JSON.parse(r.config) as Record<string, unknown>,
  signed: r.signed,
  createdUtc: r.created_utc,
  createdBy: r.created_by,
  jobId: r.job_id,
  publishedUtc: r.published_utc,
});

interface ReportedRow {
  device_id: string;
  applied_version: number;
  sha256: string;
  restart_required: number;
  rejected_version: number | null;
  errors: string | null;
  reported_utc: number;
}

const reported = (r: ReportedRow): ReportedState => ({
  deviceId: r.device_id,
  appliedVersion: r.applied_version,
  sha256: r.sha256,
  restartRequired: r.restart_required === 1,
  rejectedVersion: r.rejected_version,
  errors: r.errors ? (JSON.parse(r.errors) as string[]) : null,
  reportedUtc: r.reported_utc,
});

/** The `desired_config`, `reported_config` and `device_groups` tables. */
export class DesiredConfigRepo {
  constructor(private readonly db: Db) {}

  latest(deviceId: string): DesiredVersion | undefined {
    const r = statement(this.db, 'SELECT * FROM desired_config WHERE device_id = ? ORDER BY version DESC LIMIT 1').get(deviceId) as DesiredRow | undefined;
    return r && desired(r);
  }

  version(deviceId: string, version: number): DesiredVersion | undefined {
    const r = statement(this.db, 'SELECT * FROM desired_config WHERE device_id = ? AND version = ?').get(deviceId, version) as DesiredRow | undefined;
    return r && desired(r);
  }

  insert(v: Omit<DesiredVersion, 'publishedUtc'>): void {
    statement(this.db, 'INSERT INTO desired_config (device_id, version, config, signed, created_utc, created_by, job_id) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
      v.deviceId,
      v.version,
      JSON.stringify(v.config),
      v.signed,
      v.createdUtc,
      v.createdBy,
      v.jobId,
    );
  }

  /** Versions not yet published, oldest first (only each box's latest matters: it is retained). */
  unpublished(limit: number): DesiredVersion[] {
    return (statement(this.db, 'SELECT * FROM desired_config WHERE published_utc IS NULL ORDER BY created_utc, version LIMIT ?').all(limit) as DesiredRow[]).map(desired);
  }

  markPublished(deviceId: string, version: number, nowUtc: number): void {
    statement(this.db, 'UPDATE desired_config SET published_utc = ? WHERE device_id = ? AND version = ?').run(nowUtc, deviceId, version);
  }

  /** Of a job: each box's version. */
  ofJob(jobId: string): DesiredVersion[] {
    return (statement(this.db, 'SELECT * FROM desired_config WHERE job_id = ? ORDER BY device_id').all(jobId) as DesiredRow[]).map(desired);
  }

  setReported(s: ReportedState): void {
    statement(
      this.db,
      `INSERT INTO reported_config (device_id, applied_version, sha256, restart_required, rejected_version, errors, reported_utc) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (device_id) DO UPDATE SET applied_version = excluded.applied_version, sha256 = excluded.sha256, restart_required = excluded.restart_required,
         rejected_version = excluded.rejected_version, errors = excluded.errors, reported_utc = excluded.reported_utc`,
    ).run(s.deviceId, s.appliedVersion, s.sha256, s.restartRequired ? 1 : 0, s.rejectedVersion, s.errors ? JSON.stringify(s.errors) : null, s.reportedUtc);
  }

  reported(deviceId: string): ReportedState | undefined {
    const r = statement(this.db, 'SELECT * FROM reported_config WHERE device_id = ?').get(deviceId) as ReportedRow | undefined;
    return r && reported(r);
  }

  /** Every box's latest desired version (boxes without one are not listed). */
  latestVersions(): { deviceId: string; version: number }[] {
    return (statement(this.db, 'SELECT device_id, MAX(version) AS version FROM desired_config GROUP BY device_id').all() as { device_id: string; version: number }[]).map((r) => ({ deviceId: r.device_id, version: r.version }));
  }

  /** What every box that reported last reported. */
  allReported(): ReportedState[] {
    return (statement(this.db, 'SELECT * FROM reported_config').all() as ReportedRow[]).map(reported);
  }

  // --- groups ---
  setGroup(group: string, deviceIds: string[]): void {
    statement(this.db, 'DELETE FROM device_groups WHERE group_name = ?').run(group);
    for (const id of deviceIds) statement(this.db, 'INSERT INTO device_groups (group_name, device_id) VALUES (?, ?)').run(group, id);
  }

  group(group: string): string[] {
    return (statement(this.db, 'SELECT device_id FROM device_groups WHERE group_name = ? ORDER BY device_id').all(group) as { device_id: string }[]).map((r) => r.device_id);
  }

  groups(): { group: string; devices: string[] }[] {
    const rows = statement(this.db, 'SELECT group_name, device_id FROM device_groups ORDER BY group_name, device_id').all() as { group_name: string; device_id: string }[];
    const out = new Map<string, string[]>();
    for (const r of rows) out.set(r.group_name, [...(out.get(r.group_name) ?? []), r.device_id]);
    return [...out].map(([group, devices]) => ({ group, devices }));
  }
}
