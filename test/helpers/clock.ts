import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A folder to put first on PATH whose `chronyc` reports a clock synchronised 1.5 ms off, so audit rows show a
 * known NTP state (the machine's own is unknown to a test). Audit rows then carry `{ synced: true, offset_ms: 1.5 }`.
 */
export function syncedClockPath(dir: string): string {
  const bin = path.join(dir, 'synced-clock-bin');
  mkdirSync(bin, { recursive: true });
  // chronyc -c tracking: ref id, name, stratum, ref time, system time offset (s), ..., leap status
  writeFileSync(path.join(bin, 'chronyc'), '#!/bin/sh\necho "C0A80001,ntp.test,2,1764979200.0,0.0015,0.0,0.0,0.0,0.0,0.0,0.01,0.001,64.0,Normal"\n', { mode: 0o755 });
  return `${bin}:${process.env.PATH ?? ''}`;
}
