import type { Command } from 'commander';
import { CONFIG_OPTION } from '../config-file.js';
import { bufferStatus } from '../../recorder/status.js';
import { bufferLock, bufferUnlock } from '../../recorder/lock-operations.js';
import { isoUtc } from '../../util/clock.js';
import { UsageError } from '../../util/errors.js';
import { withCliDb } from '../open-db.js';
import { operate } from '../operate.js';
import { table } from '../../program/output.js';
import { parseTimeArg } from '../time-arg.js';


const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MB`;

export function registerBuffer(program: Command): void {
  const buffer = program.command('buffer').description('the rolling camera buffer: status, and evidence locks that keep footage from deletion');

  buffer
    .command('status')
    .description('per camera: recording state, hours buffered, size, gaps, last segment age, fps and bitrate; locks and alarms')
    .option('--json', 'print JSON')
    .option(...CONFIG_OPTION)
    .action(async (o: { json?: boolean; config?: string }) => {
      await withCliDb(o.config, (store) => {
        const s = bufferStatus(store.db, store.config, store.clock);
        if (o.json) {
          process.stdout.write(JSON.stringify(s, null, 2) + '\n');
          return;
        }
        const quota = s.policy.quotaBytes ? `, quota ${mb(s.policy.quotaBytes)}` : '';
        process.stdout.write(`buffer: ${mb(s.totalBytes)} on disk, keeping ${s.policy.hours} h${quota}; ${s.deletionReceipts} deletion receipt(s)${s.daemonReporting ? '' : '; no daemon is reporting'}\n`);
        if (s.cameras.length) {
          process.stdout.write(
            table(
              ['CAMERA', 'STATE', 'HOURS', 'SIZE', 'GAPS', 'LAST SEGMENT', 'FPS', 'KBIT/S', 'LOCKS'],
              s.cameras.map((c) => [
                c.cameraId,
                c.reason && c.state !== 'recording' ? `${c.state}: ${c.reason}` : c.state,
                c.hoursBuffered.toFixed(2),
                mb(c.bytes),
                `${c.gaps}${c.openGap ? ` (open since ${isoUtc(c.openGap.startUtcMs)})` : ''}`,
                c.lastSegmentAgeS === null ? '-' : `${c.lastSegmentAgeS.toFixed(0)} s ago`,
                c.fps === null ? '-' : c.fps.toFixed(1),
                c.bitrateKbps === null ? '-' : c.bitrateKbps.toFixed(0),
                String(c.heldLocks),
              ]),
            ),
          );
        } else process.stdout.write('no cameras\n');
        for (const l of s.locks) process.stdout.write(`lock ${l.id}: ${l.cameraId} ${isoUtc(l.fromUtcMs)} .. ${isoUtc(l.toUtcMs)} held by ${l.holder}\n`);
        for (const a of s.alarms) process.stdout.write(`ALARM ${a.kind} (${a.subject}) since ${isoUtc(a.raisedUtcMs)}: ${a.message}\n`);
      }, { readonly: true });
    });

  buffer
    .command('lock')
    .description('keep a camera\'s footage in a time range from deletion (retention and quota skip it); the range may end in the future')
    .requiredOption('--camera <id>', 'camera id')
    .requiredOption('--from <time>', 'start: "20 minutes ago", now-10m, or ISO 8601 with a zone')
    .requiredOption('--to <time>', 'end: now, now+5m, or ISO 8601 with a zone')
    .requiredOption('--holder <name>', 'a name for the lock (not an incident id); `buffer unlock --holder` releases it')
    .requiredOption('--reason <text>', 'why the footage must be kept (at least 10 characters; kept in the audit log)')
    .option(...CONFIG_OPTION)
    .action(async (o: { camera: string; from: string; to: string; holder: string; reason: string; config?: string }) => {
      const now = Date.now();
      const from = parseTimeArg(o.from, now, '--from');
      const to = parseTimeArg(o.to, now, '--to');
      if (to <= from) throw new UsageError('--to must be after --from');
      const { result: lock } = await operate(o.config, bufferLock, { camera: o.camera, fromUtcMs: from, toUtcMs: to, holder: o.holder, reason: o.reason });
      process.stdout.write(`locked ${lock.cameraId} ${isoUtc(lock.fromUtcMs)} .. ${isoUtc(lock.toUtcMs)} for ${lock.holder} (lock ${lock.id})\n`);
    });

  buffer
    .command('unlock')
    .description('release every lock of a holder; the footage is then deleted by normal retention (an incident\'s locks are released by the incident)')
    .requiredOption('--holder <name>', 'the holder given to `buffer lock`')
    .option(...CONFIG_OPTION)
    .action(async (o: { holder: string; config?: string }) => {
      const { result: released } = await operate(o.config, bufferUnlock, { holder: o.holder });
      if (released.length === 0) {
        process.stdout.write(`no locks held by ${o.holder}\n`);
        process.exitCode = 1;
      } else process.stdout.write(`released ${released.length} lock(s) of ${o.holder}\n`);
    });
}
