import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './paths.js';

/**
 * The dev photo set (identities, _nonface, _group, _single). Never copied into the repository: read from
 * HINDSIGHT_FACES_DIR, else ../shared/faces/dev beside the checkout. Tests that need it skip when absent.
 */
export const FACES_DIR = process.env.HINDSIGHT_FACES_DIR ?? path.resolve(REPO_ROOT, '..', 'shared', 'faces', 'dev');
export const HAVE_FACES = existsSync(FACES_DIR);
export const NO_FACES_MESSAGE = `dev face photos not found at ${FACES_DIR} (set HINDSIGHT_FACES_DIR): skipping`;

/** Identity folders (not starting with '_') and their photos, sorted. */
export function identityPhotos(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const id of readdirSync(FACES_DIR).sort()) {
    const dir = path.join(FACES_DIR, id);
    if (id.startsWith('_') || !existsSync(dir) || id.includes('.')) continue;
    const files = readdirSync(dir).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
    out.set(id, files.map((f) => path.join(dir, f)));
  }
  return out;
}

export function photosIn(sub: string): string[] {
  const dir = path.join(FACES_DIR, sub);
  return readdirSync(dir).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort((a, b) => parseInt(a, 10) - parseInt(b, 10)).map((f) => path.join(dir, f));
}

/**
 * Public-domain face photos shipped by Debian packages (installed by scripts/setup.mjs), for tests that
 * must run on a fresh clone: Grace Hopper (US Navy photo) from python-matplotlib-data.
 */
export { PUBLIC_DOMAIN_FACE as PUBLIC_FACE } from '../../daemon/src/devkit/walkers.js';

export interface Verification {
  genuine: number;
  impostor: number;
  tarAt: (far: number) => number;
  eer: number;
}

/** TAR at a FAR and the EER over all genuine/impostor pairs of L2-normalised embeddings (cosine). */
export function verification(embeddings: { id: string; e: number[] }[]): Verification {
  const gen: number[] = [];
  const imp: number[] = [];
  for (let i = 0; i < embeddings.length; i++) {
    for (let j = i + 1; j < embeddings.length; j++) {
      const a = embeddings[i]!;
      const b = embeddings[j]!;
      let s = 0;
      for (let k = 0; k < a.e.length; k++) s += a.e[k]! * b.e[k]!;
      (a.id === b.id ? gen : imp).push(s);
    }
  }
  imp.sort((x, y) => y - x);
  gen.sort((x, y) => x - y);
  const tarAt = (far: number): number => {
    // threshold = the impostor score that far * N impostors exceed
    const thr = imp[Math.min(imp.length - 1, Math.floor(far * imp.length))]!;
    return gen.filter((g) => g > thr).length / gen.length;
  };
  let eer = 1;
  for (let t = -0.2; t <= 1; t += 0.001) {
    const frr = gen.filter((g) => g < t).length / gen.length;
    const far = lowerCount(imp, t) / imp.length;
    eer = Math.min(eer, Math.max(frr, far));
  }
  return { genuine: gen.length, impostor: imp.length, tarAt, eer };
}

/** How many of the descending-sorted scores are >= t. */
function lowerCount(desc: number[], t: number): number {
  let lo = 0;
  let hi = desc.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (desc[mid]! >= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
