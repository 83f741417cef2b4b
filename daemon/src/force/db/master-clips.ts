import type { Db } from '../../db/db.js';

/** A master clip received from a box (its `upload_masters`), as stored and listed. */
export interface MasterClip {
  envelope_id: string;
  device_id: string;
  incident_id: string;
  camera: string;
  name: string;
  sha256: string;
  bytes: number;
  path: string;
  received_utc: number;
  evidence_envelope_id: string;
}

/** SQL for master_clips, and the clip hashes of an incident's stored evidence manifests they are checked against. */
export class MasterClipsRepo {
  constructor(private readonly db: Db) {}

  add(c: MasterClip): void {
    this.db
      .prepare(
        `INSERT INTO master_clips (envelope_id, device_id, incident_id, camera, name, sha256, bytes, path, received_utc, evidence_envelope_id)
         VALUES (@envelope_id, @device_id, @incident_id, @camera, @name, @sha256, @bytes, @path, @received_utc, @evidence_envelope_id)`,
      )
      .run(c);
  }

  ofIncident(deviceId: string, incidentId: string): MasterClip[] {
    return this.db.prepare('SELECT * FROM master_clips WHERE device_id = ? AND incident_id = ? ORDER BY camera, received_utc').all(deviceId, incidentId) as MasterClip[];
  }

  /** A clip with this hash already kept for the incident (an upload asked for twice). */
  bySha(deviceId: string, incidentId: string, sha256: string): MasterClip | undefined {
    return this.db.prepare('SELECT * FROM master_clips WHERE device_id = ? AND incident_id = ? AND sha256 = ? LIMIT 1').get(deviceId, incidentId, sha256) as MasterClip | undefined;
  }

  /** The signed package manifests (JSON) of the incident's stored evidence: their `clips` hold the masters' hashes. */
  evidenceManifests(deviceId: string, incidentId: string): { envelope_id: string; manifest: string; dir: string }[] {
    return this.db.prepare('SELECT envelope_id, manifest, dir FROM incidents WHERE device_id = ? AND incident_id = ? ORDER BY received_utc').all(deviceId, incidentId) as { envelope_id: string; manifest: string; dir: string }[];
  }
}
