// Sealed evidence: seal+sign and verify+open time for 1 MiB and 20 MiB packages, and seal -> force
// receipt through a private TLS Mosquitto with the generated ACL and a force receiver process, for a
// package of realistic size (a 90 s, 2-camera incident: ~24 subjects x 3 crops, context frames,
// embeddings) and for 20 MiB.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { round } from './_measure.mjs';

export async function run({ root, log }) {
  const dist = (p) => import(path.join(root, 'daemon/dist', p));
  const { generateKeyPair } = await dist('crypto/keys.js');
  const { sealEnvelope, verifyManifest, openEnvelope } = await dist('crypto/envelope.js');
  const { encodePackage, decodePackage } = await dist('evidence/package.js');
  const { sha256Hex } = await dist('crypto/encoding.js');
  const { startForceKit, enrollBox } = await dist('devkit/force.js');
  const { ManagedProcess } = await dist('devkit/process.js');
  const { loadConfigFile } = await dist('config/load.js');
  const { daemonPaths } = await dist('config/paths.js');
  const { openDatabase } = await dist('db/db.js');
  const { AuditLog } = await dist('audit/log.js');
  const { EventBus } = await dist('kernel/events.js');
  const { createLogger } = await dist('log/logger.js');
  const { systemClock } = await dist('util/clock.js');
  const { ClockSyncMonitor } = await dist('util/clock-sync.js');
  const { createSealer, UplinkService } = await dist('uplink/service.js');
  const { buildPackage, packageInputFromFolder } = await dist('evidence/builder.js');

  const device = generateKeyPair('ed25519');
  const force = generateKeyPair('x25519');
  const now = Date.now();
  const manifestFor = (files) => ({ v: 1, schema: 'hindsight-package/1', incident_id: 'inc-bench', device_id: 'bench-box', store: 'Bench', created_at: now, clock: { synced: true, offset_ms: 0, source: 'unknown' }, window: { start: now - 90_000, end: now }, cameras: [], clips: [], files, subjects: [], embeddings: null, models: [], tools: {} });

  const crypto = {};
  for (const mib of [1, 20]) {
    const data = randomBytes(mib * 1024 * 1024 - 4096);
    const files = [{ name: 'context_0.jpg', kind: 'context', media_type: 'image/jpeg', sha256: sha256Hex(data), bytes: data.length }];
    const runs = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const pt = encodePackage(manifestFor(files), new Map([['context_0.jpg', data]]), device);
      const e = await sealEnvelope({ plaintext: pt, device, deviceId: 'bench-box', incidentId: 'inc-bench', msgSeq: 1, recipients: [force], clock: { synced: true, offset_ms: 0 }, now });
      const t1 = performance.now();
      verifyManifest(e.manifest, device.pk, { maxChunks: 1e6, maxBytes: 1e9 });
      const opened = await openEnvelope(e.manifest, e.chunks, [force]);
      decodePackage(opened, device.pk, { deviceId: 'bench-box', incidentId: 'inc-bench' });
      const t2 = performance.now();
      runs.push({ seal: t1 - t0, open: t2 - t1 });
    }
    const med = (k) => runs.map((r) => r[k]).sort((a, b) => a - b)[2];
    crypto[`${mib}MiB`] = { seal_sign_ms: round(med('seal')), verify_open_ms: round(med('open')), runs: 5 };
    log(`${mib} MiB: seal+sign ${round(med('seal'))} ms, verify+open ${round(med('open'))} ms (median of 5)`);
  }

  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-bench-uplink-'));
  const e2e = {};
  let receiver;
  let kit;
  try {
    kit = await startForceKit(dir, { devices: [{ id: 'bench-box', store: 'Bench Store' }] });
    mkdirSync(path.join(dir, 'box'), { recursive: true });
    const configFile = path.join(dir, 'box', 'config.yaml');
    writeFileSync(configFile, stringify({ version: 1, device: { id: 'bench-box', store: 'Bench Store' }, paths: { state_dir: path.join(dir, 'box', 'state') }, log: { level: 'warn', pretty: false }, web: { host: '127.0.0.1', port: 0 } }));
    enrollBox(configFile, kit.bundle('bench-box'), kit.forceDir);
    receiver = new ManagedProcess(process.execPath, [path.join(root, 'daemon/dist/force/main.js'), 'receive', '--config', kit.forceConfig]);
    await receiver.waitForLine(/receiving evidence/, 30_000);
    const config = loadConfigFile(configFile, {});
    const paths = daemonPaths(config);
    const db = openDatabase(paths.database);
    const ctx = { config, paths, log: createLogger({ level: 'silent' }), clock: systemClock, bus: new EventBus(), db, audit: new AuditLog(db, systemClock), clockSync: new ClockSyncMonitor(), bootId: 'bench', version: 'bench' };
    const uplink = new UplinkService(ctx);
    uplink.start();
    const cases = {
      // 24 subjects x 3 crops of ~12 KB, 8 context frames of ~180 KB, 512-d embeddings: ~2.4 MB
      'realistic_90s_2cam': { subjects: 24, crops: 3, cropBytes: 12_000, context: 8, contextBytes: 180_000 },
      '20MiB': { subjects: 4, crops: 3, cropBytes: 12_000, context: 1, contextBytes: 20 * 1024 * 1024 - 200_000 },
    };
    let n = 0;
    for (const [name, c] of Object.entries(cases)) {
      const runs = [];
      for (let r = 0; r < 3; r++) {
        const pkgDir = path.join(dir, `pkg-${name}-${r}`);
        for (let s = 0; s < c.subjects; s++) {
          mkdirSync(path.join(pkgDir, 'crops', `s${s}`), { recursive: true });
          for (let k = 0; k < c.crops; k++) writeFileSync(path.join(pkgDir, 'crops', `s${s}`, `${k}.jpg`), randomBytes(c.cropBytes));
          mkdirSync(path.join(pkgDir, 'embeddings'), { recursive: true });
          writeFileSync(path.join(pkgDir, 'embeddings', `s${s}.f32`), randomBytes(512 * 4));
        }
        mkdirSync(path.join(pkgDir, 'context'), { recursive: true });
        for (let k = 0; k < c.context; k++) writeFileSync(path.join(pkgDir, 'context', `${k}.jpg`), randomBytes(c.contextBytes));
        const t0 = performance.now();
        const sealer = createSealer(ctx, uplink.outbox);
        const built = buildPackage(packageInputFromFolder(pkgDir, { incidentId: `inc-${++n}`, deviceId: 'bench-box', store: 'Bench Store', window: { start: Date.now() - 90_000, end: Date.now() }, embeddingModel: 'bench', models: [], tools: {}, clock: ctx.clockSync.current(), now: Date.now() }), sealer.deviceKey);
        const sealed = { ...built, sealed: await sealer.seal(built.plaintext, `inc-${n}`) };
        const id = sealed.sealed.manifest.header.envelope_id;
        const delivered = new Promise((resolve) => {
          const off = ctx.bus.on('envelope.delivered', (e) => {
            if (e.envelopeId === id) {
              off();
              resolve();
            }
          });
        });
        db.transaction(() => uplink.outbox.enqueue(sealed.sealed, { workingFiles: sealed.workingFiles }))();
        const t1 = performance.now();
        ctx.bus.emit('envelope.queued', { envelopeId: id, incidentId: `inc-${n}` });
        await delivered;
        const t2 = performance.now();
        runs.push({ bytes: sealed.sealed.manifest.header.pt_len, chunks: sealed.sealed.manifest.n_chunks, seal_ms: t1 - t0, send_to_receipt_ms: t2 - t1, total_ms: t2 - t0 });
      }
      const med = (k) => runs.map((r) => r[k]).sort((a, b) => a - b)[1];
      e2e[name] = { package_bytes: runs[0].bytes, chunks: runs[0].chunks, seal_ms: round(med('seal_ms')), send_to_receipt_ms: round(med('send_to_receipt_ms')), seal_to_receipt_s: round(med('total_ms') / 1000, 3), runs: 3 };
      log(`${name}: ${runs[0].bytes} bytes, ${runs[0].chunks} chunks: seal ${round(med('seal_ms'))} ms, send -> signed receipt ${round(med('send_to_receipt_ms'))} ms (median of 3)`);
    }
    await uplink.stop();
    db.close();
  } finally {
    await receiver?.stop();
    await kit?.broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    summary: { crypto, end_to_end: e2e },
    notes: 'End to end is seal -> outbox -> TLS Mosquitto -> force receiver (verify, decrypt, store) -> signed receipt -> delivered, on one machine. Window close -> sealed (extraction, face analysis) belongs to the incident and vision pipelines and is not included.',
  };
}
