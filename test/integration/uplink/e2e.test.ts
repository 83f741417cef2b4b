import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonLines, runCli, startDaemon, writeConfig } from '../../helpers/cli.js';
import { fileSha256, makePackageFolder, query, startForceKit, type ForceKit } from '../../helpers/evidence.js';
import { tempDir } from '../../helpers/paths.js';
import { TestProcess } from '../../helpers/process.js';
import { CLI } from '../../helpers/paths.js';
import { openForceDb } from '../../../daemon/src/force/database.js';
import { waitFor } from '../../helpers/wait.js';
import { syncedClockPath } from '../../helpers/clock.js';

describe('sealed evidence end to end: package -> sealed -> outbox -> broker (TLS + generated ACL) -> force receiver -> receipt', () => {
  let kit: ForceKit;
  let dir: string;
  let boxConfig: string;
  let receiver: TestProcess;
  let daemon: TestProcess;

  beforeAll(async () => {
    dir = tempDir('hs-e2e-');
    kit = await startForceKit(dir, { devices: [{ id: 'box-1', store: 'High Street' }] });
    boxConfig = writeConfig(dir, { device: { id: 'box-1', store: 'High Street' }, uplink: { receipt_timeout_s: 5, retry_min_ms: 200, retry_max_ms: 2000 } });
  });
  afterAll(async () => {
    await daemon?.stop();
    await receiver?.stop();
    await kit?.broker.stop();
  });

  it('enrolls the box with the CLI: key created 0600, public key printed, registered at the force', async () => {
    const r = await runCli(['enroll', kit.bundle('box-1'), '--config', boxConfig]);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(kit.bundle('box-1'))).toBe(false); // the bundle (with the MQTT password) is removed
    const key = /hindsight force register --device box-1 --key (\S+)/.exec(r.stdout)?.[1];
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(r.stdout + r.stderr).not.toMatch(/"sk"|password/i);
    expect(statSync(path.join(dir, 'state', 'keys', 'device.key')).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dir, 'state', 'uplink', 'enrollment.json')).mode & 0o777).toBe(0o600);
    const reg = await runCli(['force', 'register', '--dir', kit.forceDir, '--device', 'box-1', '--key', key!]);
    expect(reg.code, reg.stderr).toBe(0);
    const again = await runCli(['enroll', kit.bundle('box-1'), '--config', boxConfig]);
    expect(again.code).toBe(1); // the bundle is gone
    const doctor = await runCli(['doctor', '--config', boxConfig]);
    expect(doctor.stdout).toMatch(/^uplink\s+ok\s+device box-1 key [0-9a-f]{16}, broker mqtts:\/\/127\.0\.0\.1:\d+, key set seq 1 \(1 recipient keys valid\)/m);
  });

  it('delivers: stored crops are byte-identical, the box is delivered and its working files are gone, audit on both sides', async () => {
    // the receiver's audit rows carry the clock's NTP state: a stand-in chronyc reports it synchronised, 1.5 ms off
    receiver = new TestProcess(process.execPath, [CLI, 'force', 'receive', '--config', kit.forceConfig], { env: { ...process.env, PATH: syncedClockPath(dir) } });
    await receiver.waitForLine(/receiving evidence/, 30_000);
    daemon = startDaemon(boxConfig);
    await daemon.waitForLine(/"msg":"hindsight running"/, 30_000);
    await daemon.waitForLine(/mqtt connected/, 30_000);

    const pkg = await makePackageFolder(path.join(dir, 'pkg1'), { subjects: 2, crops: 2 });
    const sealed = await runCli(['evidence', 'seal', '--from', pkg.dir, '--incident', 'inc-e2e-1', '--embedding-model', 'test-model', '--config', boxConfig]);
    expect(sealed.code, sealed.stderr).toBe(0);
    const envelopeId = /as envelope ([0-9a-f]{32})/.exec(sealed.stdout)![1]!;

    const boxDb = path.join(dir, 'state', 'hindsight.db');
    await waitFor(() => query<{ state: string }>(boxDb, 'SELECT state FROM outbox WHERE envelope_id = ?', envelopeId)[0]?.state === 'delivered', { timeoutMs: 60_000, what: 'delivered' });
    await waitFor(() => query<{ files_deleted_utc: number | null }>(boxDb, 'SELECT files_deleted_utc FROM outbox WHERE envelope_id = ?', envelopeId)[0]?.files_deleted_utc, { timeoutMs: 10_000, what: 'working files deleted' });

    const forceDb = path.join(kit.forceDir, 'force.db');
    const files = query<{ name: string; kind: string; sha256: string; path: string }>(forceDb, 'SELECT name, kind, sha256, path FROM files WHERE envelope_id = ?', envelopeId);
    const crops = files.filter((f) => f.kind === 'crop');
    expect(crops.length).toBe(4);
    for (const c of crops) {
      expect(pkg.cropHashes.get(c.name), c.name).toBe(c.sha256);
      expect(fileSha256(c.path)).toBe(pkg.cropHashes.get(c.name));
    }
    for (const f of pkg.workingFiles) expect(existsSync(f), f).toBe(false);
    expect(existsSync(path.join(pkg.dir, 'clips', 'cam1.ts'))).toBe(true); // the master clip stays on the box

    const boxAudit = query<{ action: string }>(boxDb, 'SELECT action FROM audit ORDER BY seq').map((r) => r.action);
    expect(boxAudit).toEqual(expect.arrayContaining(['uplink.enrolled', 'keyset.installed', 'evidence.sealed', 'evidence.sent', 'evidence.delivered', 'evidence.working_files_deleted']));
    const forceAudit = query<{ action: string }>(forceDb, 'SELECT action FROM audit ORDER BY seq').map((r) => r.action);
    expect(forceAudit).toEqual(expect.arrayContaining(['device.enrolled', 'device.key_registered', 'evidence.received']));
    expect(query<{ clock_synced: number; clock_offset_ms: number }>(forceDb, "SELECT clock_synced, clock_offset_ms FROM audit WHERE action = 'evidence.received'")).toEqual([{ clock_synced: 1, clock_offset_ms: 1.5 }]);
    const fdb = openForceDb(kit.forceDir);
    expect(fdb.audit.verify().ok).toBe(true);
    fdb.close();
    expect((await runCli(['audit', 'verify', '--config', boxConfig])).code).toBe(0);

    const listed = await runCli(['force', 'incidents', '--config', kit.forceConfig, '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const incidents = (JSON.parse(listed.stdout) as { incidents: { incident_id: string; store: string; subjects: number; verified: Record<string, unknown> }[] }).incidents;
    expect(incidents).toHaveLength(1);
    expect(incidents[0]).toMatchObject({ incident_id: 'inc-e2e-1', store: 'High Street', subjects: 2, verified: { envelope_signature: 'ok', package_signature: 'ok' } });

    const storedDir = path.dirname(path.dirname(crops[0]!.path));
    const opened = await runCli(['force', 'open', storedDir, '--config', kit.forceConfig, '--out', path.join(dir, 'opened')]);
    expect(opened.code, opened.stderr).toBe(0);
    expect(opened.stdout).toMatch(/^VERIFIED: envelope [0-9a-f]{32} from box-1 \(High Street\), incident inc-e2e-1/m);
    expect(fileSha256(path.join(dir, 'opened', 'files', crops[0]!.name))).toBe(crops[0]!.sha256);

    const verified = await runCli(['force', 'incidents', '--verify', '--config', kit.forceConfig]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/inc-e2e-1\s+[0-9a-f]{32}\s+2\s+\d+\s+ok$/m);
    const crop = readFileSync(crops[1]!.path);
    crop[100]! ^= 1;
    writeFileSync(crops[1]!.path, crop);
    const altered = await runCli(['force', 'incidents', '--verify', '--config', kit.forceConfig]);
    expect(altered.code).toBe(1);
    expect(altered.stdout).toContain(`FAILED: stored file ${crops[1]!.name} is missing or altered`);
    crop[100]! ^= 1;
    writeFileSync(crops[1]!.path, crop);

    const logs = JSON.stringify(jsonLines(daemon.lines)) + receiver.output;
    expect(logs).not.toMatch(/"sk":|BEGIN PRIVATE|password":"[^[]/);
  });

  it('key rotation: the box installs the newer root-signed set (an old one is refused) and seals to both keys during the overlap', async () => {
    const rot = await runCli(['force', 'rotate', '--dir', kit.forceDir, '--overlap-days', '7']);
    expect(rot.code, rot.stderr).toBe(0);
    const keysetFile = path.join(kit.forceDir, 'keyset.json');
    const inst = await runCli(['uplink', 'install-keyset', keysetFile, '--config', boxConfig]);
    expect(inst.code, inst.stderr).toBe(0);
    expect(inst.stdout).toMatch(/installed force key set seq 2: recipients [0-9a-f]{16}, [0-9a-f]{16}/);
    const old = await runCli(['uplink', 'install-keyset', keysetFile, '--config', boxConfig]);
    expect(old.code).toBe(1);
    expect(old.stderr).toMatch(/seq 2 is not newer than the installed seq 2/);

    const pkg = await makePackageFolder(path.join(dir, 'pkg2'), { subjects: 1, crops: 1 });
    const sealed = await runCli(['evidence', 'seal', '--from', pkg.dir, '--incident', 'inc-e2e-2', '--config', boxConfig]);
    expect(sealed.code, sealed.stderr).toBe(0);
    expect(sealed.stdout).toMatch(/to force keys [0-9a-f]{16}, [0-9a-f]{16}; queued/);
    const envelopeId = /as envelope ([0-9a-f]{32})/.exec(sealed.stdout)![1]!;
    const boxDb = path.join(dir, 'state', 'hindsight.db');
    await waitFor(() => query<{ state: string }>(boxDb, 'SELECT state FROM outbox WHERE envelope_id = ?', envelopeId)[0]?.state === 'delivered', { timeoutMs: 60_000, what: 'delivered after rotation' });
    const status = await runCli(['uplink', 'status', '--config', boxConfig, '--json']);
    expect(JSON.parse(status.stdout)).toMatchObject({ enrolled: true, keyset_seq: 2, outbox: { pending: 0 } });
  });
});
