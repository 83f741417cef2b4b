import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import Database from 'better-sqlite3';
import { sha256Hex } from '../../daemon/src/crypto/encoding.js';

export { startForceKit, enrollBox, type ForceKit } from '../../daemon/src/devkit/force.js';

/**
 * A package folder as the builder reads it: clips/, crops/<subject>/<n>.jpg (real JPEGs of noise),
 * embeddings/<subject>.f32, and optionally a context frame of `padBytes` to make a package large.
 */
export async function makePackageFolder(dir: string, o: { subjects?: number; crops?: number; dim?: number; padBytes?: number; embeddings?: Float32Array[] } = {}): Promise<{ dir: string; cropHashes: Map<string, string>; workingFiles: string[] }> {
  const subjects = o.subjects ?? 2;
  const cropHashes = new Map<string, string>();
  const workingFiles: string[] = [];
  mkdirSync(path.join(dir, 'clips'), { recursive: true });
  writeFileSync(path.join(dir, 'clips', 'cam1.ts'), randomBytes(200_000));
  for (let s = 0; s < subjects; s++) {
    const sdir = path.join(dir, 'crops', `s${s}`);
    mkdirSync(sdir, { recursive: true });
    for (let c = 0; c < (o.crops ?? 2); c++) {
      const jpg = await sharp(randomBytes(112 * 112 * 3), { raw: { width: 112, height: 112, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
      const file = path.join(sdir, `${c}.jpg`);
      writeFileSync(file, jpg);
      cropHashes.set(`crop_s${s}_${c}.jpg`, sha256Hex(jpg));
      workingFiles.push(file);
    }
    mkdirSync(path.join(dir, 'embeddings'), { recursive: true });
    const emb = o.embeddings?.[s] ?? Float32Array.from({ length: o.dim ?? 128 }, () => Math.random() - 0.5);
    const file = path.join(dir, 'embeddings', `s${s}.f32`);
    writeFileSync(file, Buffer.from(emb.buffer, emb.byteOffset, emb.byteLength));
    workingFiles.push(file);
  }
  if (o.padBytes) {
    mkdirSync(path.join(dir, 'context'), { recursive: true });
    const file = path.join(dir, 'context', 'frame.jpg');
    writeFileSync(file, randomBytes(o.padBytes));
    workingFiles.push(file);
  }
  return { dir, cropHashes, workingFiles };
}

/** Read-only look into a SQLite file (box or force database) while its owner runs. */
export function query<T>(dbFile: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else out.push(path.join(d, e.name));
    }
  };
  walk(dir);
  return out;
}

export function fileSha256(file: string): string {
  return sha256Hex(readFileSync(file));
}
