import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { stringify } from 'yaml';
import { GalleryRepo } from '../../daemon/src/force/db/gallery.js';
import { forcePaths } from '../../daemon/src/force/paths.js';
import { makePackageFolder, query } from './evidence.js';
import { PUBLIC_FACE } from './faces.js';
import { ForceStoreBuilder } from './force-intake.js';
import { REPO_ROOT } from './paths.js';
import { TestProcess } from './process.js';

export const FORCE_PROGRAM = path.join(REPO_ROOT, 'daemon', 'dist', 'force', 'main.js');

const DIM = 128;
/** A unit vector from a seeded generator: different seeds are nearly orthogonal in 128 dimensions. */
export function unitVec(seed: number, base?: Float32Array, noise = 0): Float32Array {
  let t = seed * 0x9e3779b9;
  const rand = (): number => {
    t = (t + 0x6d2b79f5) | 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r ^= r + Math.imul(r ^ (r >>> 7), 61 | r);
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
  const g = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const v = Float32Array.from({ length: DIM }, (_, i) => (base ? base[i]! + noise * g() : g()));
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

/** What a console test works on: a force with two incidents waiting for triage and a small custody gallery. */
export interface ConsoleStore {
  forceDir: string;
  /** force.yaml with the console on loopback, on a free port. */
  config: string;
  /** inc-till (High Street): s0 is the gallery's P-X, s1 a stranger; with a context frame. inc-door (Market Square): one stranger. inc-aisle (Station Road): P-X again. */
  incidents: { till: string; door: string; aisle: string };
}

/**
 * A force store built as the boxes would fill it (signed, sealed, verified and stored by the real intake),
 * with custody photos of P-X (the person on camera at the till) and of someone else.
 */
export async function consoleStore(dir: string): Promise<ConsoleStore> {
  const force = new ForceStoreBuilder(dir);
  try {
    const crops = await pictures(dir);
    // the incident folder the builder packages may hold a context frame: it goes into the package
    const contextDir = path.join(dir, 'packages', 'inc-till', 'context');
    mkdirSync(contextDir, { recursive: true });
    const scene = existsSync(PUBLIC_FACE) ? sharp(PUBLIC_FACE).resize(320, 180, { fit: 'contain', background: { r: 90, g: 110, b: 130 } }) : sharp({ create: { width: 320, height: 180, channels: 3, background: { r: 90, g: 110, b: 130 } } });
    writeFileSync(path.join(contextDir, 'scene.jpg'), await scene.jpeg().toBuffer());
    const X = unitVec(100);
    // the till's master clip: named in the evidence, and already fetched to the force
    const clip = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 31) & 0xff));
    await force.addIncident('box-a', 'High Street', 'inc-till', [{ crops, embedding: unitVec(101, X, 0.03) }, { crops, embedding: unitVec(102) }], clip);
    await force.addMasterClip('box-a', 'inc-till', clip);
    await force.addIncident('box-b', 'Market Square', 'inc-door', [{ crops, embedding: unitVec(103) }]);
    // the person of the till seen again at another shop: a series once both are accepted
    await force.addIncident('box-c', 'Station Road', 'inc-aisle', [{ crops, embedding: unitVec(107, X, 0.03) }]);
    const photos = path.join(dir, 'custody');
    mkdirSync(photos, { recursive: true });
    const g = new GalleryRepo(force.fdb.db);
    for (const [ref, v] of [['P-X', unitVec(105, X, 0.03)], ['P-OTHER', unitVec(106)]] as const) {
      const stored = path.join(photos, `${ref}.jpg`);
      copyFileSync(existsSync(PUBLIC_FACE) ? PUBLIC_FACE : crops[0]!, stored);
      g.upsertPerson(ref, 1);
      g.addPhoto({ photoId: `photo-${ref}`, personRef: ref, file: `${ref}.jpg`, sha256: '0'.repeat(64), storedPath: stored, captured: '2025-01-01', source: 'custody', model: 'test-model', embedding: Buffer.from(v.buffer, v.byteOffset, v.byteLength), faceScore: 0.99, addedUtc: 1 });
    }
    const w = force.workbench();
    const till = w.resolve('inc-till').envelopeId;
    const door = w.resolve('inc-door').envelopeId;
    const aisle = w.resolve('inc-aisle').envelopeId;
    const config = path.join(force.forceDir, 'force.yaml');
    writeFileSync(config, stringify({ force: { dir: '.' }, console: { host: '127.0.0.1', port: 0 }, log: { level: 'warn', pretty: false } }));
    return { forceDir: force.forceDir, config, incidents: { till, door, aisle } };
  } finally {
    force.close();
  }
}

/** Two face crops: of a public-domain portrait where the machine has it (the screenshots then show a face), else of noise. */
async function pictures(dir: string): Promise<string[]> {
  if (!existsSync(PUBLIC_FACE)) return (await makePackageFolder(path.join(dir, 'crops'), { subjects: 1, crops: 2 })).workingFiles.filter((f) => f.endsWith('.jpg'));
  mkdirSync(path.join(dir, 'crops'), { recursive: true });
  const { width = 512, height = 600 } = await sharp(PUBLIC_FACE).metadata();
  const out: string[] = [];
  for (const [k, shrink] of [0.55, 0.7].entries()) {
    const side = Math.round(Math.min(width, height) * shrink);
    const file = path.join(dir, 'crops', `${k}.jpg`);
    await sharp(PUBLIC_FACE).extract({ left: Math.round((width - side) / 2), top: Math.round(height * 0.08), width: side, height: side }).resize(112, 112).jpeg({ quality: 90 }).toFile(file);
    out.push(file);
  }
  return out;
}

/** A running `hindsight-force console`: its port, its certificate and (while there is no admin) the setup code it printed. */
export interface RunningConsole {
  proc: TestProcess;
  port: number;
  ca: string;
  setupCode: string | undefined;
}

export async function startConsole(store: ConsoleStore): Promise<RunningConsole> {
  const proc = new TestProcess(process.execPath, [FORCE_PROGRAM, 'console', '--config', store.config]);
  const m = await proc.waitForLine(/^console at https:\/\/127\.0\.0\.1:(\d+)\/ \(certificate SHA-256 ([0-9A-F:]+)\)/, 30_000);
  const code = proc.lines.map((l) => /setup code (\d{4}-\d{4}-\d{4})/.exec(l)?.[1]).find((c) => c);
  return { proc, port: Number(m[1]), ca: readFileSync(path.join(forcePaths(store.forceDir).dir, 'web', 'cert.pem'), 'utf8'), setupCode: code };
}

/** The force's audit rows of an action, oldest first (read from force.db while the console runs). */
export function auditRows(store: ConsoleStore, action: string): { actor_type: string; actor_id: string; actor_role: string | null; object_ids: string[]; sha256s: string[]; justification: string | null; detail: Record<string, unknown> }[] {
  return query<{ actor_type: string; actor_id: string; actor_role: string | null; object_ids: string; sha256s: string; justification: string | null; detail: string }>(
    forcePaths(store.forceDir).db,
    'SELECT actor_type, actor_id, actor_role, object_ids, sha256s, justification, detail FROM audit WHERE action = ? ORDER BY seq',
    action,
  ).map((r) => ({ ...r, object_ids: JSON.parse(r.object_ids) as string[], sha256s: JSON.parse(r.sha256s) as string[], detail: JSON.parse(r.detail) as Record<string, unknown> }));
}
