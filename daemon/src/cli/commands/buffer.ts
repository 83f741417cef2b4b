import type { Command } from 'commander';
import { CONFIG_OPTION } from '../config-file.js';
import { bufferStatus } from '../../recorder/status.js';
import { EvidenceLocks } from '../../store/repos/evidence-locks.js';
import { isoUtc } from '../../util/clock.js';
import { UsageError } from '../../util/errors.js';
import { withCliStore } from '../open-store.js';
import { table } from '../output.js';
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
      await withCliStore(o.config, (store) => {
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
      });
    });

  buffer
    .command('lock')
    .description('keep a camera\'s footage in a time range from deletion (retention and quota skip it); the range may end in the future')
    .requiredOption('--camera <id>', 'camera id')
    .requiredOption('--from <time>', 'start: ISO 8601 with zone, or now, now-10m ...')
    .requiredOption('--to <time>', 'end: ISO 8601 with zone, or now+5m ...')
    .requiredOption('--holder <name>', 'who holds it (e.g. an incident id); `buffer unlock --holder` releases it')
    .option('--reason <text>', 'why (kept in the audit log)')
    .option(...CONFIG_OPTION)
    .action(async (o: { camera: string; from: string; to: string; holder: string; reason?: string; config?: string }) => {
      await withCliStore(o.config, (store) => {
        const now = store.clock.now();
        const from = parseTimeArg(o.from, now, '--from');
        const to = parseTimeArg(o.to, now, '--to');
        if (to <= from) throw new UsageError('--to must be after --from');
        const lock = store.db.transaction(() => {
          const l = new EvidenceLocks(store.db, store.clock).acquire(o.holder, o.camera, from, to);
          store.audit.append({ actor: store.actor, action: 'buffer.locked', objectIds: [l.id, o.camera], justification: o.reason, detail: { holder: o.holder, from_utc_ms: l.fromUtcMs, to_utc_ms: l.toUtcMs } });
          return l;
        })();
        process.stdout.write(`locked ${lock.cameraId} ${isoUtc(lock.fromUtcMs)} .. ${isoUtc(lock.toUtcMs)} for ${lock.holder} (lock ${lock.id})\n`);
      });
    });

  buffer
    .command('unlock')
    .description('release every lock of a holder; the footage is then deleted by normal retention')
    .requiredOption('--holder <name>', 'the holder given to `buffer lock`')
    .option(...CONFIG_OPTION)
    .action(async (o: { holder: string; config?: string }) => {
      await withCliStore(o.config, (store) => {
        const released = store.db.transaction(() => {
          const r = new EvidenceLocks(store.db, store.clock).releaseAll(o.holder);
          if (r.length) store.audit.append({ actor: store.actor, action: 'buffer.unlocked', objectIds: r.map((l) => l.id), detail: { holder: o.holder, locks: r.length } });
          return r;
        })();
        if (released.length === 0) {
          process.stdout.write(`no locks held by ${o.holder}\n`);
          process.exitCode = 1;
        } else process.stdout.write(`released ${released.length} lock(s) of ${o.holder}\n`);
      });
    });
}
