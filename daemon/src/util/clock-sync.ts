import { existsSync } from 'node:fs';
import { runCommand } from './child.js';

/** Whether the box's clock is disciplined by NTP, and by how much it was off; in every manifest and audit row. */
export interface ClockState {
  synced: boolean;
  /** Last measured offset from the time source, when the source tells it. */
  offset_ms: number | null;
  source: 'chrony' | 'timesyncd' | 'unknown';
}

export const UNKNOWN_CLOCK: ClockState = { synced: false, offset_ms: null, source: 'unknown' };

/**
 * Reads the clock's sync state from chrony (`chronyc -c tracking`) or systemd-timesyncd
 * (/run/systemd/timesync/synchronized, `timedatectl timesync-status`). Cached; refreshed by `refresh()`
 * (the daemon calls it periodically), so readers never wait for a subprocess.
 */
export class ClockSyncMonitor {
  private state: ClockState = UNKNOWN_CLOCK;

  current(): ClockState {
    return this.state;
  }

  async refresh(): Promise<ClockState> {
    this.state = (await fromChrony()) ?? (await fromTimesyncd()) ?? UNKNOWN_CLOCK;
    return this.state;
  }
}

async function fromChrony(): Promise<ClockState | undefined> {
  try {
    const r = await runCommand('chronyc', ['-c', 'tracking'], { timeoutMs: 3000 });
    if (r.code !== 0) return undefined;
    // CSV: ref id, name, stratum, ref time, system time offset (s), ... leap status last
    const f = r.stdout.toString('utf8').trim().split(',');
    const offsetS = Number(f[4]);
    const leap = f[f.length - 1] ?? '';
    return { synced: leap !== 'Not synchronised' && Number(f[2]) > 0, offset_ms: Number.isFinite(offsetS) ? offsetS * 1000 : null, source: 'chrony' };
  } catch {
    return undefined;
  }
}

async function fromTimesyncd(): Promise<ClockState | undefined> {
  if (!existsSync('/run/systemd/timesync')) return undefined;
  const synced = existsSync('/run/systemd/timesync/synchronized');
  let offset: number | null = null;
  try {
    const r = await runCommand('timedatectl', ['timesync-status'], { timeoutMs: 3000 });
    const m = /Offset:\s*([+-]?[\d.]+)(us|ms|s)/.exec(r.stdout.toString('utf8'));
    if (m) offset = Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
  } catch {
    /* offset unknown */
  }
  return { synced, offset_ms: offset, source: 'timesyncd' };
}
