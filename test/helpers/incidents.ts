import path from 'node:path';
import Database from 'better-sqlite3';
import { controlRequest } from '../../daemon/src/control/client.js';
import type { IncidentView } from '../../daemon/src/incidents/desk.js';
import { runCli } from './cli.js';
import { waitFor } from './wait.js';

/** Read-only view of a running daemon's database (WAL lets tests read while it writes). */
export function readDb(stateDir: string): Database.Database {
  return new Database(path.join(stateDir, 'hindsight.db'), { readonly: true, fileMustExist: true });
}

export async function addCamera(config: string, id: string, url: string, extra: string[] = []): Promise<void> {
  const r = await runCli(['camera', 'add', '--config', config, '--id', id, '--name', id, '--url', url, ...extra]);
  if (r.code !== 0) throw new Error(`camera add ${id} failed: ${r.stderr}`);
}

/** Wait until every camera has closed segments covering at least `seconds` of footage. */
export async function waitForFootage(stateDir: string, cameras: string[], seconds: number, timeoutMs = seconds * 1000 + 60_000): Promise<void> {
  await waitFor(
    () => {
      const db = readDb(stateDir);
      try {
        return cameras.every((c) => {
          const r = db.prepare('SELECT MIN(start_utc_ms) AS a, MAX(end_utc_ms) AS b FROM segments WHERE camera_id = ?').get(c) as { a: number | null; b: number | null };
          return r.a !== null && r.b !== null && r.b - r.a >= seconds * 1000;
        });
      } finally {
        db.close();
      }
    },
    { timeoutMs, intervalMs: 500, what: `${seconds} s of footage from ${cameras.join(', ')}` },
  );
}

export function getIncident(stateDir: string, id: string): Promise<IncidentView> {
  return controlRequest<{ incident: IncidentView }>(stateDir, 'GET', `/v1/incidents/${id}`).then((r) => r.incident);
}

export async function waitForState(stateDir: string, id: string, states: string[], timeoutMs = 120_000): Promise<IncidentView> {
  return waitFor(
    async () => {
      const i = await getIncident(stateDir, id);
      return states.includes(i.state) ? i : undefined;
    },
    { timeoutMs, intervalMs: 300, what: `incident ${id} to reach ${states.join('|')}` },
  );
}
