import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { forceConfigLoader, type ForceConfig } from '../../force/config.js';
import { openForceDb } from '../../force/db.js';
import { enrollDevice } from '../../force/enroll.js';
import { forceKeygen, loadRecipientKeys, rotateRecipientKey } from '../../force/keys.js';
import { extractPackage, listIncidents, openEnvelopeDir, reverify } from '../../force/open.js';
import { forcePaths } from '../../force/paths.js';
import { ForceReceiver } from '../../force/receiver.js';
import { DeviceRegistry } from '../../force/registry.js';
import { searchSubjects, toFloat32 } from '../../force/search.js';
import { loadProbeEmbedder } from '../../force/embedder.js';
import { writeBrokerKit } from '../../force/broker-kit.js';
import { createLogger } from '../../log/logger.js';
import { systemClock } from '../../util/clock.js';
import { HindsightError, UsageError } from '../../util/errors.js';
import { table } from '../output.js';

const CONFIG_OPT = ['-c, --config <file>', 'force config file (default: $HINDSIGHT_FORCE_CONFIG, else ./force.yaml)'] as const;

function loadForceConfig(option: string | undefined): ForceConfig {
  const file = option ?? process.env.HINDSIGHT_FORCE_CONFIG ?? 'force.yaml';
  return forceConfigLoader.loadFile(file, process.env);
}

function positiveInt(value: string, what: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${what} must be a positive integer, not ${JSON.stringify(value)}`);
  return n;
}

export function registerForce(program: Command): void {
  const force = program.command('force').description('the force side: keys, enrollment of boxes, broker kit, receiver, offline verification, search');

  force
    .command('keygen')
    .description('create a force installation in DIR: root key, HPKE recipient key, receipt and command keys, signed key set, MQTT password, force.yaml')
    .requiredOption('--dir <dir>', 'folder for the force installation')
    .option('--broker-url <url>', 'broker URL written into force.yaml (mqtts://host:port)')
    .option('--ca <file>', 'broker CA certificate (PEM) written into force.yaml')
    .option('--prefix <prefix>', 'MQTT topic prefix', 'hindsight/v1')
    .option('--validity-days <n>', 'how long the keys are valid', '365')
    .action((opts: { dir: string; brokerUrl?: string; ca?: string; prefix: string; validityDays: string }) => {
      const r = forceKeygen(opts.dir, { now: systemClock.now(), validityDays: positiveInt(opts.validityDays, '--validity-days'), brokerUrl: opts.brokerUrl, caFile: opts.ca && path.resolve(opts.ca), prefix: opts.prefix });
      const fdb = openForceDb(opts.dir);
      fdb.audit.append({ actor: { type: 'cli', id: 'force' }, action: 'keyset.issued', objectIds: [String(r.keyset.keyset.seq)], detail: { root_kid: r.root.kid, recipients: r.keyset.keyset.recipients.map((k) => k.kid) } });
      fdb.close();
      process.stdout.write(`force keys in ${forcePaths(opts.dir).keysDir} (0600); root key ${r.root.kid}; key set seq 1 to ${r.keyset.keyset.recipients.map((k) => k.kid).join(', ')}\nconfig: ${r.config}\nkeep keys/root.key offline once the boxes are enrolled.\n`);
    });

  force
    .command('rotate')
    .description('add a new recipient key (key set seq + 1); the old key stays valid for the overlap so boxes keep sealing while they update')
    .requiredOption('--dir <dir>', 'force installation folder')
    .option('--overlap-days <n>', 'how long the old recipient key stays valid', '30')
    .option('--validity-days <n>', 'validity of the new key', '365')
    .action((opts: { dir: string; overlapDays: string; validityDays: string }) => {
      const s = rotateRecipientKey(opts.dir, { now: systemClock.now(), overlapDays: positiveInt(opts.overlapDays, '--overlap-days'), validityDays: positiveInt(opts.validityDays, '--validity-days') });
      const fdb = openForceDb(opts.dir);
      fdb.audit.append({ actor: { type: 'cli', id: 'force' }, action: 'keyset.issued', objectIds: [String(s.keyset.seq)], detail: { recipients: s.keyset.recipients.map((k) => k.kid) } });
      fdb.close();
      process.stdout.write(`key set seq ${s.keyset.seq}: recipients ${s.keyset.recipients.map((k) => k.kid).join(', ')}\n`);
    });

  force
    .command('enroll')
    .description('enroll a box: writes its bundle (broker URL, CA, MQTT credentials, root-signed key set, pinned root key), 0600, and its broker password hash')
    .requiredOption('--dir <dir>', 'force installation folder')
    .requiredOption('--device <id>', 'device id of the box')
    .requiredOption('--broker-url <url>', 'broker URL the box connects to (mqtts://host:port)')
    .requiredOption('--ca <file>', 'CA certificate (PEM) of the broker')
    .option('--store <name>', 'shop name', '')
    .option('--prefix <prefix>', 'MQTT topic prefix', 'hindsight/v1')
    .option('-o, --out <file>', 'bundle file (default: DIR/bundles/<device>.bundle.json)')
    .action((opts: { dir: string; device: string; brokerUrl: string; ca: string; store: string; prefix: string; out?: string }) => {
      if (!/^mqtts:\/\//.test(opts.brokerUrl)) throw new UsageError('--broker-url must be mqtts://host:port (TLS only)');
      const fdb = openForceDb(opts.dir);
      try {
        const r = enrollDevice({ dir: opts.dir, deviceId: opts.device, store: opts.store, brokerUrl: opts.brokerUrl, caPem: readFileSync(opts.ca, 'utf8'), prefix: opts.prefix, now: systemClock.now(), db: fdb.db, audit: fdb.audit, out: opts.out });
        process.stdout.write(`bundle for ${opts.device}: ${r.file} (0600; it holds the box's MQTT password)\nbroker password file updated: ${forcePaths(opts.dir).brokerPasswd}\nnext: on the box run \`hindsight enroll ${path.basename(r.file)}\`, then \`hindsight force register\` with the key it prints\n`);
      } finally {
        fdb.close();
      }
    });

  force
    .command('register')
    .description("pin a box's signing public key (printed by `hindsight enroll` on the box); evidence is accepted only when signed by it")
    .requiredOption('--dir <dir>', 'force installation folder')
    .requiredOption('--device <id>', 'device id')
    .requiredOption('--key <pk>', 'the device public key (base64url)')
    .action((opts: { dir: string; device: string; key: string }) => {
      const fdb = openForceDb(opts.dir);
      try {
        const kid = fdb.db.transaction(() => {
          const k = new DeviceRegistry(fdb.db).register(opts.device, opts.key, systemClock.now());
          fdb.audit.append({ actor: { type: 'cli', id: 'force' }, action: 'device.key_registered', objectIds: [opts.device], detail: { kid: k } });
          return k;
        })();
        process.stdout.write(`device ${opts.device}: signing key ${kid} registered\n`);
      } finally {
        fdb.close();
      }
    });

  force
    .command('broker-config')
    .description('write the Mosquitto kit into DIR/broker: ACL generated from the protocol topic table, password file, config snippet')
    .requiredOption('--dir <dir>', 'force installation folder')
    .option('--prefix <prefix>', 'MQTT topic prefix', 'hindsight/v1')
    .option('--port <port>', 'TLS listener port', '8883')
    .action((opts: { dir: string; prefix: string; port: string }) => {
      const kit = writeBrokerKit(opts.dir, { prefix: opts.prefix, forceUsers: ['force'], port: positiveInt(opts.port, '--port') });
      process.stdout.write(`acl: ${kit.acl}\npassword file: ${kit.passwd}\nconfig snippet: ${kit.conf} (set the certificate paths, then include it from mosquitto.conf)\n`);
    });

  force
    .command('receive')
    .description('run the receiver: verify, reassemble, decrypt, store and acknowledge evidence from every box (stops on SIGINT/SIGTERM)')
    .option(...CONFIG_OPT)
    .action(async (opts: { config?: string }) => {
      const config = loadForceConfig(opts.config);
      const log = createLogger({ level: config.log.level, pretty: config.log.pretty });
      const receiver = new ForceReceiver(config, log);
      receiver.start();
      log.info({ dir: config.force.dir, broker: config.mqtt.url }, 'force receiver running');
      await new Promise<void>((resolve) => {
        for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve());
      });
      await receiver.stop();
      log.info('force receiver stopped');
    });

  force
    .command('open')
    .description('verify an envelope folder offline (device signature, body hash, decryption, signed package manifest, file hashes); --out extracts the files')
    .argument('<envelope-dir>', 'folder with manifest.json and body.bin (a stored envelope folder works too)')
    .option(...CONFIG_OPT)
    .option('--device-key <pk>', "the device's public key (default: from the force registry)")
    .option('-o, --out <dir>', 'write the package files here')
    .action(async (dir: string, opts: { config?: string; deviceKey?: string; out?: string }) => {
      const config = loadForceConfig(opts.config);
      const manifestFile = existsSync(path.join(dir, 'envelope', 'manifest.json')) ? path.join(dir, 'envelope', 'manifest.json') : path.join(dir, 'manifest.json');
      let devicePk = opts.deviceKey;
      if (!devicePk) {
        const deviceId = (JSON.parse(readFileSync(manifestFile, 'utf8')) as { header?: { device_id?: string } }).header?.device_id ?? '';
        const fdb = openForceDb(config.force.dir);
        devicePk = new DeviceRegistry(fdb.db).get(deviceId)?.signingPk ?? undefined;
        fdb.close();
        if (!devicePk) throw new HindsightError(`device ${deviceId} has no registered key here`, { code: 'unknown_device', hint: 'pass --device-key' });
      }
      const r = await openEnvelopeDir(dir, devicePk, loadRecipientKeys(config.force.dir));
      const pm = r.pkg.signed.manifest;
      process.stdout.write(
        `VERIFIED: envelope ${r.manifest.header.envelope_id} from ${pm.device_id} (${pm.store}), incident ${pm.incident_id}\n` +
          `  device signature ok, body sha256 ${r.manifest.body_sha256} ok, package signature ok, ${r.pkg.files.size} files match their SHA-256\n` +
          `  window ${new Date(pm.window.start).toISOString()} .. ${new Date(pm.window.end).toISOString()}, ${pm.subjects.length} subjects, ${pm.clips.length} clip hashes, clock synced: ${pm.clock.synced}\n`,
      );
      if (opts.out) process.stdout.write(`extracted ${extractPackage(r.pkg, opts.out).length} files to ${opts.out}\n`);
    });

  force
    .command('incidents')
    .description('list the evidence received, with its verification status (--verify checks the stored envelopes and files again)')
    .option(...CONFIG_OPT)
    .option('--verify', 'verify each stored envelope again offline and hash the stored files')
    .option('--json', 'machine-readable output')
    .action(async (opts: { config?: string; verify?: boolean; json?: boolean }) => {
      const config = loadForceConfig(opts.config);
      const fdb = openForceDb(config.force.dir);
      try {
        const rows = listIncidents(fdb.db);
        const status = new Map<string, string>();
        for (const r of rows) {
          status.set(r.envelope_id, Object.values(JSON.parse(r.verified) as Record<string, unknown>).every((v) => v === 'ok' || typeof v === 'number') ? 'ok' : 'FAILED');
          if (opts.verify) status.set(r.envelope_id, await reverify(fdb.db, r, loadRecipientKeys(config.force.dir)));
        }
        const pending = fdb.db.prepare("SELECT envelope_id, device_id, state, reason FROM envelopes WHERE state != 'stored'").all();
        if (opts.json) {
          process.stdout.write(JSON.stringify({ incidents: rows.map((r) => ({ ...r, verified: JSON.parse(r.verified) as unknown, status: status.get(r.envelope_id) })), not_stored: pending }, null, 2) + '\n');
        } else {
          process.stdout.write(table(['received', 'device', 'store', 'incident', 'envelope', 'subjects', 'files', 'verified'], rows.map((r) => [new Date(r.received_utc).toISOString(), r.device_id, r.store, r.incident_id, r.envelope_id, String(r.subjects), String(r.files), status.get(r.envelope_id)!])));
        }
        if ([...status.values()].some((s) => s !== 'ok')) process.exitCode = 1;
      } finally {
        fdb.close();
      }
    });

  force
    .command('search')
    .description('rank the stored subjects of every incident by similarity to a probe photo: incident, store, camera, time, score, crop')
    .option(...CONFIG_OPT)
    .option('--image <file>', 'probe photo (embedded with the same face pipeline as the boxes)')
    .option('--embedding <file>', 'probe embedding (float32 little-endian) instead of a photo')
    .option('--top <n>', 'how many results', '10')
    .option('--reason <text>', 'why this search is made (audited)', '')
    .option('--json', 'machine-readable output')
    .action(async (opts: { config?: string; image?: string; embedding?: string; top: string; reason: string; json?: boolean }) => {
      const config = loadForceConfig(opts.config);
      if (!opts.image === !opts.embedding) throw new UsageError('give exactly one of --image FILE or --embedding FILE');
      let probe: Float32Array;
      let model: string | undefined;
      if (opts.image) {
        const embedder = await loadProbeEmbedder();
        if (!embedder) throw new HindsightError('the face embedder is not available in this build', { code: 'no_embedder', hint: 'use --embedding FILE.f32 with a probe embedding made by the same model' });
        probe = await embedder.embedProbe(opts.image);
        model = embedder.model;
      } else {
        probe = toFloat32(readFileSync(opts.embedding!));
      }
      const fdb = openForceDb(config.force.dir);
      try {
        const hits = searchSubjects(fdb.db, probe, { top: positiveInt(opts.top, '--top'), model });
        fdb.audit.append({ actor: { type: 'cli', id: 'force' }, action: 'evidence.searched', objectIds: hits.map((h) => h.envelopeId), justification: opts.reason || undefined, detail: { results: hits.length, probe: opts.image ? 'image' : 'embedding' } });
        if (opts.json) {
          process.stdout.write(JSON.stringify(hits, null, 2) + '\n');
          return;
        }
        process.stdout.write(table(['score', 'incident', 'store', 'camera', 'time', 'subject', 'crop'], hits.map((h) => [h.score.toFixed(3), h.incidentId, h.store, h.cameras.join(',') || '-', new Date(h.time).toISOString(), h.subjectId, h.crop ?? '-'])));
      } finally {
        fdb.close();
      }
    });
}
