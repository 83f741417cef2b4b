import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, writeConfig } from '../../helpers/cli.js';
import { enrollBox, makePackageFolder, query, startForceKit, type ForceKit } from '../../helpers/evidence.js';
import { CLI, tempDir } from '../../helpers/paths.js';
import { TestProcess } from '../../helpers/process.js';
import { connectAs, inProcessUplink, sealFolder } from '../../helpers/uplink.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * Faults on the way to the force, each with zero loss and no duplicates in the force store: broker
 * kill -9 mid-send, sender kill -9 mid-send, receiver down while the box sends, a dropped chunk.
 * "Mid-send" is made deterministic by an observer on the broker that pulls the trigger when it sees
 * chunk 8 of the envelope pass.
 */
const OBSERVER = { username: 'svc.observer', password: 'observer-password-1234' };
const BOX_UPLINK = { receipt_timeout_s: 4, retry_min_ms: 200, retry_max_ms: 2000, reconnect_ms: 300, inflight: 4, publish_timeout_ms: 3000 };

describe('uplink faults', () => {
  let kit: ForceKit;
  let dir: string;
  let receiver: TestProcess;
  let observer: mqtt.MqttClient;

  const forceDb = (): string => path.join(kit.forceDir, 'force.db');
  const box = (id: string, extra: Record<string, unknown> = {}): { config: string; db: string } => {
    mkdirSync(path.join(dir, id), { recursive: true });
    const config = writeConfig(path.join(dir, id), { device: { id, store: `Store ${id}` }, uplink: { ...BOX_UPLINK, ...extra } });
    kit.enroll(id, `Store ${id}`);
    enrollBox(config, kit.bundle(id), kit.forceDir);
    return { config, db: path.join(dir, id, 'state', 'hindsight.db') };
  };
  const startReceiver = async (): Promise<TestProcess> => {
    const p = new TestProcess(process.execPath, [CLI, 'force', 'receive', '--config', kit.forceConfig]);
    await p.waitForLine(/receiving evidence/, 30_000);
    return p;
  };
  const storedCount = (incident: string): number => query<{ n: number }>(forceDb(), 'SELECT COUNT(*) AS n FROM incidents WHERE incident_id = ?', incident)[0]!.n;
  const delivered = (db: string, envelope: string): boolean => query<{ state: string }>(db, 'SELECT state FROM outbox WHERE envelope_id = ?', envelope)[0]?.state === 'delivered';
  /** Resolve when the observer sees chunk `index` of an envelope of `device` on the broker. */
  const onChunk = (device: string, index: number, action: () => void): void => {
    const handler = (topic: string): void => {
      if (topic.startsWith(`hindsight/v1/${device}/ev/`) && topic.endsWith(`/${index}`)) {
        observer.off('message', handler);
        action();
      }
    };
    observer.on('message', handler);
  };

  beforeAll(async () => {
    dir = tempDir('hs-faults-');
    kit = await startForceKit(dir, { forceUsers: [OBSERVER] });
    receiver = await startReceiver();
    observer = await connectAs(kit.broker, OBSERVER.username, OBSERVER.password);
    await observer.subscribeAsync('hindsight/v1/+/ev/+/+', { qos: 0 });
  });
  afterAll(async () => {
    observer?.end(true);
    await receiver?.stop();
    await kit?.broker.stop();
  });

  it('broker kill -9 mid-send, then restart: delivered once', async () => {
    const b = box('box-bk');
    const daemon = startDaemon(b.config);
    await daemon.waitForLine(/mqtt connected/, 30_000);
    const pkg = await makePackageFolder(path.join(dir, 'pkg-bk'), { padBytes: 8 * 1024 * 1024 });
    let killed = false;
    onChunk('box-bk', 8, () => {
      killed = true;
      process.kill(kit.broker.pid, 'SIGKILL');
    });
    const envelope = await sealFolder(b.config, pkg.dir, 'inc-broker-kill');
    await waitFor(() => killed, { timeoutMs: 30_000, what: 'broker killed mid-send' });
    expect(delivered(b.db, envelope)).toBe(false);
    await new Promise((r) => setTimeout(r, 1500));
    await kit.broker.restart();
    await observer.endAsync(true);
    observer = await connectAs(kit.broker, OBSERVER.username, OBSERVER.password);
    await observer.subscribeAsync('hindsight/v1/+/ev/+/+', { qos: 0 });
    await waitFor(() => delivered(b.db, envelope), { timeoutMs: 90_000, what: 'delivered after broker restart' });
    expect(storedCount('inc-broker-kill')).toBe(1);
    await daemon.stop();
  });

  it('sender (daemon) kill -9 mid-send, then restart: delivered once', async () => {
    const b = box('box-dk');
    let daemon = startDaemon(b.config);
    await daemon.waitForLine(/mqtt connected/, 30_000);
    const pkg = await makePackageFolder(path.join(dir, 'pkg-dk'), { padBytes: 8 * 1024 * 1024 });
    let killed = false;
    onChunk('box-dk', 8, () => {
      killed = true;
      daemon.child.signal('SIGKILL');
    });
    const envelope = await sealFolder(b.config, pkg.dir, 'inc-daemon-kill');
    await waitFor(() => killed, { timeoutMs: 30_000, what: 'daemon killed mid-send' });
    await daemon.child.exited;
    expect(delivered(b.db, envelope)).toBe(false);
    daemon = startDaemon(b.config);
    await waitFor(() => delivered(b.db, envelope), { timeoutMs: 90_000, what: 'delivered after daemon restart' });
    expect(storedCount('inc-daemon-kill')).toBe(1);
    for (const f of pkg.workingFiles) await waitFor(() => !existsSync(f), { what: `working file ${f} deleted` });
    await daemon.stop();
  });

  it('receiver down while the box sends, started later: delivered once', async () => {
    const b = box('box-rd');
    await receiver.stop();
    const daemon = startDaemon(b.config);
    await daemon.waitForLine(/mqtt connected/, 30_000);
    const pkg = await makePackageFolder(path.join(dir, 'pkg-rd'), { padBytes: 300_000 });
    const envelope = await sealFolder(b.config, pkg.dir, 'inc-receiver-down');
    await waitFor(() => query<{ attempts: number }>(b.db, 'SELECT attempts FROM outbox WHERE envelope_id = ?', envelope)[0]!.attempts >= 1, { timeoutMs: 30_000, what: 'sent while the receiver is down' });
    await new Promise((r) => setTimeout(r, 1000));
    expect(delivered(b.db, envelope)).toBe(false);
    receiver = await startReceiver();
    await waitFor(() => delivered(b.db, envelope), { timeoutMs: 60_000, what: 'delivered after the receiver started' });
    expect(storedCount('inc-receiver-down')).toBe(1);
    await daemon.stop();
  });

  it('a dropped chunk: the force sends a signed `missing` receipt and the box resends only that chunk', async () => {
    const b = box('box-dc', { receipt_timeout_s: 60 });
    const run = inProcessUplink(b.config, { dropChunk: (_id, index, attempt) => index === 2 && attempt === 0 });
    run.uplink.start();
    try {
      const pkg = await makePackageFolder(path.join(dir, 'pkg-dc'), { padBytes: 400_000 });
      const sealer = (await import('../../../daemon/src/uplink/sealer.js')).createSealer(run.ctx, run.uplink.outbox)!;
      const { buildPackage, packageInputFromFolder } = await import('../../../daemon/src/evidence/builder.js');
      const built = buildPackage(
        packageInputFromFolder(pkg.dir, {
          incidentId: 'inc-dropped-chunk',
          deviceId: 'box-dc',
          store: 'Store box-dc',
          window: { start: 0, end: 90_000 },
          embeddingModel: 'test-model',
          models: [],
          tools: {},
          clock: run.ctx.clockSync.current(),
          now: Date.now(),
        }),
        sealer.deviceKey,
      );
      const sealed = { ...built, sealed: await sealer.seal(built.plaintext, 'inc-dropped-chunk') };
      run.ctx.db.transaction(() => run.uplink.outbox.enqueue(sealed.sealed, { workingFiles: sealed.workingFiles }))();
      run.ctx.bus.emit('envelope.queued', { envelopeId: sealed.sealed.manifest.header.envelope_id, incidentId: 'inc-dropped-chunk' });
      const envelope = sealed.sealed.manifest.header.envelope_id;
      await waitFor(() => delivered(b.db, envelope), { timeoutMs: 60_000, what: 'delivered after the missing chunk was resent' });
      const receipts = query<{ status: string; missing: string }>(b.db, 'SELECT status, missing FROM receipts WHERE envelope_id = ? ORDER BY id', envelope);
      expect(receipts[0]).toEqual({ status: 'missing', missing: '[2]' });
      expect(receipts.at(-1)!.status).toBe('complete');
      const sends = query<{ detail: string }>(b.db, "SELECT detail FROM audit WHERE action = 'evidence.sent' AND object_ids LIKE ? ORDER BY seq", `%${envelope}%`).map((r) => JSON.parse(r.detail) as { chunks_sent: number; partial: boolean; n_chunks: number });
      expect(sends[0]).toMatchObject({ partial: false });
      expect(sends[1]).toMatchObject({ chunks_sent: 1, partial: true });
      expect(storedCount('inc-dropped-chunk')).toBe(1);
    } finally {
      await run.close();
    }
  });
});
