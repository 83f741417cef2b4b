import { existsSync } from 'node:fs';
import type { DaemonPaths } from '../config/paths.js';
import { openDatabase } from '../db/db.js';
import type { CheckResult } from '../doctor/check.js';
import { runCommand } from '../util/child.js';

/** `hindsight doctor`: the runtime the daemon runs on. */
export function nodeCheck(): CheckResult {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 20) return { check: 'node', state: 'missing', required: true, detail: `Node ${process.versions.node} is too old`, fix: 'install Node.js 22 or 24' };
  return {
    check: 'node',
    state: major >= 22 ? 'ok' : 'warn',
    required: true,
    detail: `Node ${process.versions.node}${major < 22 ? ' works; Node 22 or 24 is recommended in production' : ''}`,
  };
}

/** `hindsight doctor`: the box's database opens and says its schema version (or is yet to be created). */
export function databaseCheck({ paths }: { paths: Pick<DaemonPaths, 'database'> }): CheckResult {
  const file = paths.database;
  if (!existsSync(file)) return { check: 'database', state: 'ok', required: true, detail: `${file} (will be created at first start)` };
  try {
    const db = openDatabase(file, { readonly: true });
    const version = db.pragma('user_version', { simple: true });
    db.close();
    return { check: 'database', state: 'ok', required: true, detail: `${file} schema v${String(version)}` };
  } catch (err) {
    return { check: 'database', state: 'missing', required: true, detail: (err as Error).message.split('\n')[0] ?? '', fix: 'restore the database from backup (see the README, "Operating")' };
  }
}

/** A program the box (or the demo) starts is there: it runs and prints its version (first line shown). */
export async function programCheck(name: string, command: string, required: boolean, fix: string, args = ['-version']): Promise<CheckResult> {
  try {
    const r = await runCommand(command, args, { timeoutMs: 10_000 });
    const first = (r.stdout.toString('utf8') + r.stderr).split('\n').find((l) => l.trim()) ?? '';
    return { check: name, state: 'ok', required, detail: first.trim().slice(0, 80) };
  } catch {
    return { check: name, state: required ? 'missing' : 'warn', required, detail: `${command} not found`, fix };
  }
}
