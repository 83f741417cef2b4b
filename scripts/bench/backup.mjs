// Backup and restore of a box with a large database, timed as an operator runs them (the CLI as a process):
// a box whose audit log holds AUDIT_ROWS rows (a busy box after a long time without pruning) and whose
// buffer index holds SEGMENT_ROWS segments. Figures: the database's size; `hindsight backup` with a key file
// and with a passphrase (scrypt) (wall, peak RSS, bytes written, MB/s of the database); `hindsight restore`
// of it after the state is wiped (wall, peak RSS); `hindsight audit verify` on the restored database (every
// row's hash again). Peak RSS is the process's own (VmHWM, from /usr/bin/time): the backup streams the
// database through the cipher in 1 MiB parts, so it should not grow with the database.
// Settings (environment): HINDSIGHT_BENCH_BACKUP_AUDIT_ROWS (300000), _SEGMENT_ROWS (100000).
// HINDSIGHT_BENCH_KEEP=1 keeps the folder.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { round } from './_measure.mjs';

const AUDIT_ROWS = Number(process.env.HINDSIGHT_BENCH_BACKUP_AUDIT_ROWS ?? 300_000);
const SEGMENT_ROWS = Number(process.env.HINDSIGHT_BENCH_BACKUP_SEGMENT_ROWS ?? 100_000);
const mib = (b) => round(b / 2 ** 20, 1);

export async function run({ root, log }) {
  const dist = (p) => import(path.join(root, 'daemon/dist', p));
  const { openDatabase } = await dist('db/db.js');
  const { AuditLog } = await dist('audit/log.js');
  const { CamerasRepo } = await dist('db/repos/cameras.js');
  const { SegmentsRepo } = await dist('db/repos/segments.js');
  const { runCommand } = await dist('util/child.js');
  const cli = path.join(root, 'daemon/dist/cli/main.js');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-bench-backup-'));
  try {
    const state = path.join(dir, 'state');
    const config = path.join(dir, 'config.yaml');
    writeFileSync(config, `version: 1\ndevice: {id: bench-box, store: "Bench Store"}\npaths: {state_dir: ${JSON.stringify(state)}}\nweb: {enabled: false}\nlog: {level: warn, pretty: false}\n`);

    log(`making a box database: ${AUDIT_ROWS} audit rows, ${SEGMENT_ROWS} segments`);
    const t0 = performance.now();
    const db = openDatabase(path.join(state, 'hindsight.db'));
    let now = Date.UTC(2026, 0, 1);
    const audit = new AuditLog(db, { now: () => now });
    const cams = ['till1', 'till2', 'entrance', 'stock'];
    const cameras = new CamerasRepo(db);
    for (const id of cams) cameras.insert({ id, name: id, url: `rtsp://127.0.0.1:8554/${id}`, transport: 'tcp', zone: 'shop', enabled: true }, undefined, now);
    db.transaction(() => {
      for (let i = 0; i < AUDIT_ROWS; i++) {
        now += 20_000;
        const kind = i % 10;
        audit.append(
          kind === 0
            ? { actor: { type: 'user', id: 'staff:anna' }, action: 'incident.created', objectIds: [`01J${String(i).padStart(23, '0')}`], justification: 'took two bottles from the shelf by the till', detail: { cameras: ['till1', 'till2'], window_s: 90 } }
            : { actor: { type: 'system', id: 'retention' }, action: 'buffer.deleted', objectIds: [cams[i % 4]], sha256s: [randomBytes(32).toString('hex')], detail: { segments: 15, bytes: 7_500_000 } },
        );
      }
    })();
    const segments = new SegmentsRepo(db);
    db.transaction(() => {
      for (let i = 0; i < SEGMENT_ROWS; i++) {
        const cameraId = cams[i % 4];
        const startUtcMs = Date.UTC(2026, 0, 1) + Math.floor(i / 4) * 4000;
        segments.insert({ cameraId, path: `${cameraId}/run-1_${String(i).padStart(8, '0')}.ts`, startUtcMs, endUtcMs: startUtcMs + 4000, bytes: 2_000_000, runId: 'run-1', recovered: false });
      }
    })();
    db.close();
    const dbBytes = statSync(path.join(state, 'hindsight.db')).size;
    log(`database: ${mib(dbBytes)} MiB in ${round((performance.now() - t0) / 1000, 1)} s`);

    const keyFile = path.join(dir, 'backup.key');
    writeFileSync(keyFile, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
    const passFile = path.join(dir, 'passphrase');
    writeFileSync(passFile, 'correct horse battery staple\n', { mode: 0o600 });
    /** The CLI as a process under /usr/bin/time: wall seconds and peak RSS (VmHWM) of the process. */
    const timed = async (what, args) => {
      const r = await runCommand('/usr/bin/time', ['-f', 'HSBENCH %e %M', process.execPath, cli, ...args], { timeoutMs: 1_800_000 });
      const m = /HSBENCH ([\d.]+) (\d+)/.exec(r.stderr);
      if (r.code !== 0 || !m) throw new Error(`${what} failed (${r.code}): ${r.stderr.slice(-2000)}`);
      const out = { wall_s: Number(m[1]), peak_rss_mib: round(Number(m[2]) / 1024, 0) };
      log(`${what}: ${out.wall_s} s, peak RSS ${out.peak_rss_mib} MiB`);
      return out;
    };

    const withKey = path.join(dir, 'box-key.hsbackup');
    const backupKey = await timed('backup (key file)', ['backup', '--out', withKey, '--key-file', keyFile, '--config', config]);
    const withPass = path.join(dir, 'box-pass.hsbackup');
    const backupPass = await timed('backup (passphrase)', ['backup', '--out', withPass, '--passphrase-file', passFile, '--config', config]);

    // the box loses its state; the backup made with the key file puts it back
    rmSync(state, { recursive: true, force: true });
    const restore = await timed('restore (key file)', ['restore', '--in', withKey, '--key-file', keyFile, '--config', config]);
    const verify = await timed('audit verify (restored)', ['audit', 'verify', '--config', config]);
    const restoredBytes = statSync(path.join(state, 'hindsight.db')).size;

    const fileBytes = statSync(withKey).size;
    return {
      audit_rows: AUDIT_ROWS,
      segment_rows: SEGMENT_ROWS,
      database_mib: mib(dbBytes),
      backup_file_mib: mib(fileBytes),
      backup_key_file: { ...backupKey, database_mib_per_s: round(mib(dbBytes) / backupKey.wall_s, 1) },
      backup_passphrase: backupPass,
      restore: { ...restore, database_mib_per_s: round(mib(dbBytes) / restore.wall_s, 1) },
      audit_verify_restored: verify,
      restored_database_mib: mib(restoredBytes),
      summary: {
        database_mib: mib(dbBytes),
        backup_s: backupKey.wall_s,
        backup_peak_rss_mib: backupKey.peak_rss_mib,
        backup_passphrase_s: backupPass.wall_s,
        restore_s: restore.wall_s,
        restore_peak_rss_mib: restore.peak_rss_mib,
        audit_verify_s: verify.wall_s,
      },
      notes:
        'Each figure is one run of the CLI as a process on a machine that may be shared. The backup copies the database with SQLite\'s online backup into a temporary folder, then encrypts it (AES-256-GCM, 1 MiB parts) with the config and keys into one file; the passphrase adds scrypt (N=2^17). Restore checks every member\'s SHA-256 before anything moves.',
    };
  } finally {
    if (!process.env.HINDSIGHT_BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
    else log(`kept ${dir}`);
  }
}
