import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startDaemon } from '../../helpers/cli.js';
import { fleetLine, startHeadsChain, startReceiver, type Chain } from '../../helpers/chain.js';
import { tempDir } from '../../helpers/paths.js';
import { waitFor } from '../../helpers/wait.js';

const rows = <T>(file: string, sql: string): T[] => {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
};

/**
 * Backup, wipe, restore on a real enrolled box: the same incidents, cameras, keys and audit chain come
 * back (`audit verify` passes); the restarted daemon starts a new epoch, and the force, which had
 * acknowledged rows the backup does not hold, checks the restored chain from its own acknowledgement,
 * records the restore and acknowledges the new head (no alarm); a replayed old command is refused.
 */
describe('backup -> wipe -> restore of a box', () => {
  let dir: string;
  let chain: Chain;
  const box = () => fleetLine(chain.kit);

  beforeAll(async () => {
    dir = tempDir('hs-backup-');
    chain = await startHeadsChain(dir);
  }, 120_000);
  afterAll(async () => {
    await chain?.stop();
  });

  it('gives back the same incidents, cameras, keys and audit chain, and the force acknowledges the new epoch', async () => {
    const cfg = ['--config', chain.boxConfig];
    const passFile = path.join(dir, 'passphrase');
    writeFileSync(passFile, 'correct horse battery staple\n', { mode: 0o600 });
    await waitFor(async () => (await box()).audit?.status === 'baseline', { timeoutMs: 30_000, what: "the force's first head of box-1" });
    // the camera's login is sealed under the credentials key, which the backup must carry
    const creds = await runCli(['camera', 'update', 'till2', '--username', 'viewer', '--password-stdin', ...cfg], { input: 'camera-secret\n' });
    expect(creds.code, creds.stderr).toBe(0);
    const db = path.join(chain.stateDir, 'hindsight.db');
    await waitFor(() => rows<{ n: number }>(db, 'SELECT COUNT(*) AS n FROM segments')[0]!.n >= 6, { timeoutMs: 60_000, what: '12 s of footage' });
    const logged = await runCli(['incident', 'log', '--at', 'now', '--before', '6', '--after', '2', '--camera', 'till2', '--reason', 'theft', '--justification', 'took two bottles of whisky', '--json', ...cfg]);
    expect(logged.code, logged.stderr).toBe(0);
    await waitFor(() => rows<{ state: string }>(db, 'SELECT state FROM incidents').some((i) => i.state === 'delivered'), { timeoutMs: 120_000, what: 'the incident delivered to the force' });
    // a head with the incident's rows acknowledged before the backup (the box keeps the force's signed ack)
    await waitFor(async () => (await box()).audit?.status === 'extended', { timeoutMs: 30_000, what: 'an acknowledged head that extends the baseline' });

    const backupFile = path.join(dir, 'box.hsbackup');
    const made = await runCli(['backup', '--out', backupFile, '--passphrase-file', passFile, '--with-device-key', ...cfg]);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toMatch(/backup written/);
    expect(readFileSync(backupFile).subarray(0, 18).toString()).toBe('hindsight-backup/1');
    const backedUp = Number(/(\d+) audit rows/.exec(made.stdout)![1]);
    expect(backedUp).toBeGreaterThan(0);

    // work after the backup that the force acknowledges: these rows will be lost by the restore
    const ping = await runCli(['force', 'fleet', 'cmd', 'box-1', 'ping', '--config', chain.kit.forceConfig]);
    expect(ping.code, ping.stderr).toBe(0);
    await waitFor(async () => ((await box()).audit?.count ?? 0) > backedUp, { timeoutMs: 30_000, what: 'the force acknowledging rows written after the backup' });
    await chain.daemon.stop();

    const incidents = rows<{ id: string; state: string }>(db, 'SELECT id, state FROM incidents ORDER BY id');
    const cameras = rows<{ id: string; url: string; sealed: string }>(db, 'SELECT id, url, credentials_key_id, hex(credentials_ciphertext) AS sealed FROM cameras ORDER BY id');
    const keys = ['keys/device.key', 'uplink/enrollment.json', 'camera-credentials.key'].map((f) => [f, readFileSync(path.join(chain.stateDir, f), 'utf8')]);
    const config = readFileSync(chain.boxConfig, 'utf8');
    expect(incidents.length).toBe(1);

    // the running daemon is refused a restore under it; then the box loses everything
    chain.daemon = startDaemon(chain.boxConfig);
    await chain.daemon.waitForLine(/"msg":"hindsight running"/, 60_000);
    const busy = await runCli(['restore', '--in', backupFile, '--passphrase-file', passFile, ...cfg]);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(/daemon is running[\s\S]*systemctl stop hindsight/);
    await chain.daemon.stop();
    rmSync(chain.stateDir, { recursive: true, force: true });
    rmSync(chain.boxConfig);

    // a wrong passphrase is told as such and changes nothing
    const wrong = path.join(dir, 'wrong');
    writeFileSync(wrong, 'not the passphrase at all\n');
    const bad = await runCli(['restore', '--in', backupFile, '--passphrase-file', wrong, ...cfg]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/wrong passphrase, or the file is damaged/);

    const restored = await runCli(['restore', '--in', backupFile, '--passphrase-file', passFile, ...cfg]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(/device key: from the backup[\s\S]*begins epoch 1/);
    expect(readFileSync(chain.boxConfig, 'utf8')).toBe(config);
    expect(rows(db, 'SELECT id, state FROM incidents ORDER BY id')).toEqual(incidents);
    expect(rows(db, 'SELECT id, url, credentials_key_id, hex(credentials_ciphertext) AS sealed FROM cameras ORDER BY id')).toEqual(cameras);
    for (const [f, text] of keys) expect(readFileSync(path.join(chain.stateDir, f!), 'utf8'), f).toBe(text);
    const verify = await runCli(['audit', 'verify', ...cfg]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(new RegExp(`ok: ${backedUp} audit rows`));

    // what the force acknowledged last (the box's head at its clean stop included)
    const ackedBeforeRestore = (await box()).audit!.count;
    // the daemon starts epoch 1; the force checks it from its own acknowledgement and carries on
    chain.daemon = startDaemon(chain.boxConfig);
    await chain.daemon.waitForLine(/restored from a backup of .*epoch 1 starts/, 60_000);
    await waitFor(async () => ((await box()).audit?.count ?? 0) > backedUp && (await box()).audit?.status === 'extended' && chain.receiver.output.includes('was restored from a backup (epoch 1)'), {
      timeoutMs: 45_000,
      what: "the force's acknowledgement of the restored box's new epoch",
    });
    expect((await box()).audit!.alarm).toBeNull();
    const forceRows = rows<{ detail: string }>(path.join(chain.kit.forceDir, 'force.db'), "SELECT detail FROM audit WHERE action = 'fleet.box_restored'");
    expect(forceRows).toHaveLength(1);
    expect(JSON.parse(forceRows[0]!.detail)).toMatchObject({ epoch: 1, backup_rows: backedUp, acknowledged_rows_lost: ackedBeforeRestore - backedUp });
    const after = await runCli(['audit', 'verify', ...cfg]);
    expect(after.code, after.stdout).toBe(0);
    // the force's commands still reach the box after the restore
    const again = await runCli(['force', 'fleet', 'cmd', 'box-1', 'ping', '--config', chain.kit.forceConfig]);
    expect(again.code, again.stderr).toBe(0);
  }, 300_000);

  it("backs up and restores the force; the box's next heads extend what the restored force no longer remembers", async () => {
    const fcfg = ['--config', chain.kit.forceConfig];
    const keyFile = path.join(dir, 'force.key');
    writeFileSync(keyFile, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
    const backupFile = path.join(dir, 'force.hsbackup');
    const made = await runCli(['force', 'backup', '--out', backupFile, '--key-file', keyFile, ...fcfg]);
    expect(made.code, made.stderr).toBe(0);
    const listed = await runCli(['force', 'incidents', '--json', ...fcfg]);
    expect(listed.code, listed.stderr).toBe(0);
    const knownAtBackup = (await box()).audit!.count;
    // the force acknowledges more of the box's log after its backup
    const ping = await runCli(['force', 'fleet', 'cmd', 'box-1', 'ping', ...fcfg]);
    expect(ping.code, ping.stderr).toBe(0);
    await waitFor(async () => ((await box()).audit?.count ?? 0) > knownAtBackup, { timeoutMs: 30_000, what: 'the force acknowledging rows after its backup' });
    // and the box holding that acknowledgement (it arrives just after the force records it)
    const boxAcked = () => JSON.parse(rows<{ value: string }>(path.join(chain.stateDir, 'hindsight.db'), "SELECT value FROM meta WHERE key = 'audit.acked'")[0]?.value ?? '{"count":0}') as { count: number };
    await waitFor(() => boxAcked().count > knownAtBackup, { timeoutMs: 30_000, what: "the box keeping the force's acknowledgement" });
    // and one more head from that acknowledgement: the head the broker keeps (retained) for the restored force
    // must start from a head the backup does not know, whatever the order of the box's timer and the pings
    const firstAck = boxAcked().count;
    const again = await runCli(['force', 'fleet', 'cmd', 'box-1', 'ping', ...fcfg]);
    expect(again.code, again.stderr).toBe(0);
    await waitFor(async () => ((await box()).audit?.count ?? 0) > firstAck && boxAcked().count > firstAck, { timeoutMs: 30_000, what: 'a head from the acknowledgement the backup does not have' });

    // refused while the receiver has the database open, then restored over the folder (moved aside whole)
    const busy = await runCli(['force', 'restore', '--in', backupFile, '--key-file', keyFile, '--dir', chain.kit.forceDir]);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(/force database is open in process \d+[\s\S]*stop the receivers and the console/);
    await chain.receiver.stop();
    const keysBefore = readFileSync(path.join(chain.kit.forceDir, 'keys', 'receipt.key'), 'utf8');
    const restored = await runCli(['force', 'restore', '--in', backupFile, '--key-file', keyFile, '--dir', chain.kit.forceDir]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(/kept what was there: .*before-restore-/);
    expect(readFileSync(path.join(chain.kit.forceDir, 'keys', 'receipt.key'), 'utf8')).toBe(keysBefore);
    expect((await runCli(['force', 'incidents', '--json', ...fcfg])).stdout).toBe(listed.stdout);
    expect((await box()).audit!.count).toBeLessThanOrEqual(knownAtBackup);

    const receiver = await startReceiver(chain.kit);
    try {
      await runCli(['force', 'fleet', 'cmd', 'box-1', 'ping', ...fcfg]);
      await waitFor(async () => ((await box()).audit?.count ?? 0) > knownAtBackup + 1 && receiver.output.includes('extends a head this force acknowledged before its database was restored'), {
        timeoutMs: 45_000,
        what: "the restored force accepting the box's next head",
      });
      expect((await box()).audit).toMatchObject({ status: 'extended', alarm: null });
    } finally {
      await receiver.stop();
    }
  }, 240_000);

  it('refuses bad secrets and options with what to do', async () => {
    const cfg = ['--config', chain.boxConfig];
    const none = await runCli(['backup', '--out', path.join(dir, 'x'), ...cfg]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/always encrypted[\s\S]*--passphrase-file/);
    const key = path.join(dir, 'backup.key');
    writeFileSync(key, 'ab'.repeat(32) + '\n', { mode: 0o644 });
    chmodSync(key, 0o644);
    const open = await runCli(['backup', '--out', path.join(dir, 'y'), '--key-file', key, ...cfg]);
    expect(open.code).toBe(2);
    expect(open.stderr).toMatch(/readable by others[\s\S]*chmod 600/);
    const short = path.join(dir, 'short');
    writeFileSync(short, 'hunter2\n');
    const weak = await runCli(['backup', '--out', path.join(dir, 'z'), '--passphrase-file', short, ...cfg]);
    expect(weak.code).toBe(2);
    expect(weak.stderr).toMatch(/at least 12 are needed/);
  }, 60_000);
});
