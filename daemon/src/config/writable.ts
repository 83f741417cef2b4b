import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { HindsightError } from '../util/errors.js';
import type { DaemonPaths } from './paths.js';

/**
 * The folders the daemon writes, and the systemd drop-in that lets it write those its unit does not
 * already cover. The unit runs with ProtectSystem=strict: every path is read-only except its
 * ReadWritePaths (/var/lib/hindsight) and its RuntimeDirectory (/run/hindsight), so a buffer moved to a
 * big disk (`paths.buffer_dir: /srv/cctv`) needs its own ReadWritePaths line, written from the config.
 */

/** What the shipped unit (systemd/hindsight.service) already makes writable. */
export const UNIT_WRITABLE = ['/var/lib/hindsight', '/run/hindsight'] as const;
/** Where `hindsight system unit-paths --write` puts the drop-in. */
export const UNIT_DROP_IN = '/etc/systemd/system/hindsight.service.d/paths.conf';
/** What fixes a folder the unit keeps read-only. */
export const UNIT_PATHS_FIX = 'sudo hindsight system unit-paths --write && sudo systemctl daemon-reload && sudo systemctl restart hindsight';

export interface WritableFolder {
  key: string;
  path: string;
}

/** Every folder the daemon writes, by the config key that sets it. */
export function writableFolders(paths: DaemonPaths): WritableFolder[] {
  return [
    { key: 'paths.state_dir', path: paths.stateDir },
    { key: 'paths.buffer_dir', path: paths.bufferDir },
    { key: 'paths.evidence_dir', path: paths.evidenceDir },
    { key: 'paths.runtime_dir', path: paths.runtimeDir },
  ].map((f) => ({ ...f, path: path.resolve(f.path) }));
}

function inside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** The folders outside what the unit covers (and outside each other), in config order. */
export function extraWritableFolders(paths: DaemonPaths): string[] {
  const out: string[] = [];
  for (const { path: p } of writableFolders(paths)) {
    if (UNIT_WRITABLE.some((root) => inside(p, root))) continue;
    if (out.some((o) => inside(p, o))) continue;
    // a folder that holds one already listed replaces it
    for (let i = out.length - 1; i >= 0; i--) if (inside(out[i]!, p)) out.splice(i, 1);
    out.push(p);
  }
  return out;
}

/** The drop-in's text for this config. `-` lets the unit start while a folder is missing (the daemon then says so). */
export function unitDropIn(paths: DaemonPaths, configFile: string): string {
  const extra = extraWritableFolders(paths);
  const lines = [
    `# Written by \`hindsight system unit-paths --write\` from ${configFile}: the folders the daemon writes`,
    `# outside ${UNIT_WRITABLE.join(' and ')}, which ProtectSystem=strict would keep read-only.`,
    '# Write it again after changing paths.* in the config, then: systemctl daemon-reload && systemctl restart hindsight',
    '[Service]',
    ...extra.map((p) => `ReadWritePaths=-${p}`),
  ];
  return lines.join('\n') + '\n';
}

/** The nearest folder that exists at or above `p` (the daemon creates the rest under it). */
function nearestExisting(p: string): string {
  for (let d = p; ; d = path.dirname(d)) {
    try {
      statSync(d);
      return d;
    } catch {
      if (path.dirname(d) === d) return d;
    }
  }
}

/**
 * At start: every folder the daemon writes must be writable (or creatable), else it stops at once with the
 * folder, its config key and the fix, instead of failing later at the first segment or incident.
 */
export function assertWritableFolders(paths: DaemonPaths): void {
  for (const { key, path: p } of writableFolders(paths)) {
    const at = nearestExisting(p);
    try {
      accessSync(at, constants.W_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const where = at === p ? p : `${p} (it does not exist, and ${at} above it is not writable)`;
      if (code === 'EROFS') {
        throw new HindsightError(`cannot write ${where}, set by ${key}: it is on a read-only file system (the service unit's ProtectSystem=strict allows only its ReadWritePaths)`, {
          code: 'path_not_writable',
          hint: `run: ${UNIT_PATHS_FIX}`,
        });
      }
      throw new HindsightError(`cannot write ${where}, set by ${key}: ${code === 'EACCES' ? 'permission denied' : (err as Error).message}`, {
        code: 'path_not_writable',
        hint: `give the folder to the daemon's user (sudo install -d -o hindsight -g hindsight -m 0750 ${p}), or point ${key} elsewhere`,
      });
    }
  }
}
