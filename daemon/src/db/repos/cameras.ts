import type { Db } from '../db.js';
import { MetaRepo } from './meta.js';
import { statement } from '../statements.js';

export interface SealedCredentials {
  keyId: string;
  nonce: Buffer;
  /** AES-256-GCM ciphertext with the 16-byte tag appended. */
  ciphertext: Buffer;
}

export type Transport = 'tcp' | 'udp';

/** A registered camera as everyone but the recorder sees it: never its credentials. */
export interface Camera {
  id: string;
  name: string;
  /** RTSP URL without credentials. */
  url: string;
  transport: Transport;
  zone: string;
  enabled: boolean;
  hasCredentials: boolean;
  createdUtcMs: number;
  updatedUtcMs: number;
}

export type CameraFields = Omit<Camera, 'hasCredentials' | 'createdUtcMs' | 'updatedUtcMs'>;

interface Row {
  id: string;
  name: string;
  url: string;
  transport: Transport;
  zone: string;
  enabled: number;
  credentials_key_id: string | null;
  credentials_nonce: Buffer | null;
  credentials_ciphertext: Buffer | null;
  created_utc_ms: number;
  updated_utc_ms: number;
}

const fromRow = (r: Row): Camera => ({
  id: r.id,
  name: r.name,
  url: r.url,
  transport: r.transport,
  zone: r.zone,
  enabled: r.enabled === 1,
  hasCredentials: r.credentials_ciphertext !== null,
  createdUtcMs: r.created_utc_ms,
  updatedUtcMs: r.updated_utc_ms,
});

/** Bumped in the same transaction as every camera change; the running daemon polls it to reload. */
export const CAMERAS_REVISION_KEY = 'cameras.revision';

export class CamerasRepo {
  private readonly meta: MetaRepo;

  constructor(private readonly db: Db) {
    this.meta = new MetaRepo(db);
  }

  list(): Camera[] {
    return (statement(this.db, 'SELECT * FROM cameras ORDER BY id').all() as Row[]).map(fromRow);
  }

  get(id: string): Camera | undefined {
    const r = statement(this.db, 'SELECT * FROM cameras WHERE id = ?').get(id) as Row | undefined;
    return r && fromRow(r);
  }

  sealedCredentials(id: string): SealedCredentials | undefined {
    const r = statement(this.db, 'SELECT credentials_key_id, credentials_nonce, credentials_ciphertext FROM cameras WHERE id = ?').get(id) as Row | undefined;
    if (!r?.credentials_ciphertext || !r.credentials_nonce) return undefined;
    return { keyId: r.credentials_key_id ?? '', nonce: r.credentials_nonce, ciphertext: r.credentials_ciphertext };
  }

  insert(c: CameraFields, sealed: SealedCredentials | undefined, nowUtcMs: number): void {
    this.db
      .prepare(
        `INSERT INTO cameras (id, name, url, transport, zone, enabled, credentials_key_id, credentials_nonce, credentials_ciphertext, created_utc_ms, updated_utc_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(c.id, c.name, c.url, c.transport, c.zone, c.enabled ? 1 : 0, sealed?.keyId ?? null, sealed?.nonce ?? null, sealed?.ciphertext ?? null, nowUtcMs, nowUtcMs);
    this.bumpRevision();
  }

  /** `sealed`: undefined keeps the stored credentials, null clears them. */
  update(c: CameraFields, sealed: SealedCredentials | null | undefined, nowUtcMs: number): void {
    this.db
      .prepare('UPDATE cameras SET name = ?, url = ?, transport = ?, zone = ?, enabled = ?, updated_utc_ms = ? WHERE id = ?')
      .run(c.name, c.url, c.transport, c.zone, c.enabled ? 1 : 0, nowUtcMs, c.id);
    if (sealed !== undefined) {
      this.db
        .prepare('UPDATE cameras SET credentials_key_id = ?, credentials_nonce = ?, credentials_ciphertext = ? WHERE id = ?')
        .run(sealed?.keyId ?? null, sealed?.nonce ?? null, sealed?.ciphertext ?? null, c.id);
    }
    this.bumpRevision();
  }

  remove(id: string): void {
    statement(this.db, 'DELETE FROM cameras WHERE id = ?').run(id);
    this.bumpRevision();
  }

  revision(): number {
    return Number(this.meta.get(CAMERAS_REVISION_KEY) ?? 0);
  }

  private bumpRevision(): void {
    this.meta.set(CAMERAS_REVISION_KEY, String(this.revision() + 1));
  }
}
