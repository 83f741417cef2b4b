/**
 * Walkers for synthetic CCTV footage (devkit/cctv.ts): a face photo cut to head and shoulders around the
 * face the pipeline itself finds, so tests, benchmarks and the demo know where each face is at any time.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import sharp from 'sharp';
import { buildConfig } from '../config/load.js';
import { INSTALL_ROOT } from '../config/paths.js';
import { findFaces } from '../vision/faces.js';
import { Pyramid } from '../vision/image.js';
import { FaceModels } from '../vision/models.js';
import { visionOptions, type VisionOptions } from '../vision/options.js';
import { runCommand } from '../util/child.js';
import { photoToFrame, type Placement, type Walker } from './cctv.js';
import path from 'node:path';

const MODELS_DIR = path.join(INSTALL_ROOT, 'models');

/** A public-domain face photo shipped by a Debian package (python-matplotlib-data; setup installs it): Grace Hopper, US Navy. */
export const PUBLIC_DOMAIN_FACE = '/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg';

/** A second public-domain face: NASA's portrait of the astronaut Eileen Collins, as scikit-image ships it. */
const ASTRONAUT_IN_PACKAGE = './usr/lib/python3/dist-packages/skimage/data/astronaut.png';

/**
 * The astronaut portrait as `<dir>/astronaut.png`, taken out of Debian's python3-skimage package (downloaded,
 * not installed: nothing else of it is needed), or undefined with the reason when that cannot be done
 * (no network to the Debian mirror, no apt). Kept once fetched.
 */
export async function secondPublicDomainFace(dir: string): Promise<{ file: string } | { why: string }> {
  const file = path.join(dir, 'astronaut.png');
  if (existsSync(file)) return { file };
  mkdirSync(dir, { recursive: true });
  const work = mkdtempSync(path.join(dir, '.fetch-'));
  try {
    const got = await runCommand('apt-get', ['download', 'python3-skimage'], { cwd: work, timeoutMs: 300_000 });
    const deb = readdirSync(work).find((f) => f.endsWith('.deb'));
    if (got.code !== 0 || !deb) return { why: `apt-get download python3-skimage failed: ${got.stderr.trim().split('\n').pop() ?? got.code}` };
    const out = await runCommand('sh', ['-c', 'dpkg-deb --fsys-tarfile "$1" | tar -xO "$2" > "$3"', 'sh', path.join(work, deb), ASTRONAUT_IN_PACKAGE, `${file}.partial`], { timeoutMs: 120_000 });
    if (out.code !== 0) return { why: `the portrait is not in ${deb}: ${out.stderr.trim()}` };
    renameSync(`${file}.partial`, file);
    return { file };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Default vision options, independent of any config file on the machine. */
export function defaultVisionOptions(): VisionOptions {
  return visionOptions(buildConfig({ device: { id: 'test-box' } }, { env: {} }), MODELS_DIR);
}

/** A walker plus where its face sits in the photo, so the test knows where the face is at any time. */
export interface KnownWalker extends Walker {
  name: string;
  faceCentre: [number, number];
  /** Face box width in the photo. */
  faceWidth: number;
}

/** Head-and-shoulders sprite of the main face of `photo`, found by the pipeline itself at full size. */
export async function walker(name: string, photo: string, from: Placement, to: Placement): Promise<KnownWalker> {
  const models = await FaceModels.load(MODELS_DIR, { intraOpThreads: 1, withEmbedder: false });
  try {
    const { data, info } = await sharp(photo).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    const [face] = await findFaces(models, new Pyramid({ width: info.width, height: info.height, data }), defaultVisionOptions());
    if (!face) throw new Error(`no face in ${photo}`);
    const [x1, y1, x2, y2] = face.box;
    const w = x2 - x1;
    const h = y2 - y1;
    const x = Math.max(0, x1 - 0.4 * w);
    const y = Math.max(0, y1 - 0.3 * h);
    const crop = { x, y, width: Math.min(info.width - x, 1.8 * w), height: Math.min(info.height - y, 1.6 * h) };
    return { name, photo, crop, from, to, faceCentre: [(x1 + x2) / 2, (y1 + y2) / 2], faceWidth: w };
  } finally {
    await models.release();
  }
}

/** Expected face centre and width in the frame at `t` seconds (undefined when not visible). */
export function faceAt(w: KnownWalker, t: number): { centre: [number, number]; width: number } | undefined {
  const c = photoToFrame(w, t, w.faceCentre[0], w.faceCentre[1]);
  const e = photoToFrame(w, t, w.faceCentre[0] + w.faceWidth, w.faceCentre[1]);
  if (!c || !e) return undefined;
  return { centre: c, width: e[0] - c[0] };
}

/** The walker whose face is nearest to `box` at time t, if the box is on it (centre within half a face). */
export function whoIsAt(walkers: KnownWalker[], t: number, box: number[]): KnownWalker | undefined {
  const cx = (box[0]! + box[2]!) / 2;
  const cy = (box[1]! + box[3]!) / 2;
  let best: { w: KnownWalker; d: number } | undefined;
  for (const w of walkers) {
    const f = faceAt(w, t);
    if (!f) continue;
    const d = Math.hypot(f.centre[0] - cx, f.centre[1] - cy) / f.width;
    if (d < 0.5 && (!best || d < best.d)) best = { w, d };
  }
  return best?.w;
}
