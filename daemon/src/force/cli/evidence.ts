import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { sha256Hex } from '../../crypto/encoding.js';
import { intOption } from '../../program/args.js';
import { table } from '../../program/output.js';
import { errorMessage, HindsightError, UsageError } from '../../util/errors.js';
import { FORCE_CONFIG_OPTION, loadForceConfig } from './config-option.js';
import { EnvelopesRepo } from '../db/envelopes.js';
import { loadProbeEmbedder } from '../embedder.js';
import { loadRecipientKeys } from '../keys.js';
import { extractPackage, listIncidents, openEnvelopeDir, reverify } from '../open.js';
import { forcePaths } from '../paths.js';
import { DeviceRegistry } from '../registry.js';
import { runReceiver } from '../runtime.js';
import { searchSubjects, toFloat32 } from '../search.js';
import { requireJustification } from '../justification.js';
import { openForceSession, withForceSession } from './session.js';


/** The force's evidence commands: receive, open offline, list, search. */
export function registerForceEvidence(force: Command): void {
  force
    .command('receive')
    .description('run the receiver: verify, reassemble, decrypt, store and acknowledge evidence from every box (stops on SIGINT/SIGTERM)')
    .option(...FORCE_CONFIG_OPTION)
    .action(async (opts: { config?: string }) => {
      await runReceiver(loadForceConfig(opts.config));
    });

  force
    .command('open')
    .description('verify an envelope folder offline (device signature, body hash, decryption, signed package manifest, file hashes); --out extracts the files')
    .argument('<envelope-dir>', 'folder with manifest.json and body.bin (a stored envelope folder works too)')
    .option(...FORCE_CONFIG_OPTION)
    .option('--device-key <pk>', "the device's public key (default: from the force registry)")
    .option('-o, --out <dir>', 'write the package files here')
    .action(async (dir: string, opts: { config?: string; deviceKey?: string; out?: string }) => {
      const config = loadForceConfig(opts.config);
      const manifestFile = existsSync(path.join(dir, 'envelope', 'manifest.json')) ? path.join(dir, 'envelope', 'manifest.json') : path.join(dir, 'manifest.json');
      await withForceSession(config.force.dir, async (fdb) => {
        let devicePk = opts.deviceKey;
        if (!devicePk) {
          const header = (JSON.parse(readFileSync(manifestFile, 'utf8')) as { header?: { device_id?: string; signer_kid?: string } }).header;
          const deviceId = header?.device_id ?? '';
          // the key that signed this envelope, current or since replaced
          devicePk = new DeviceRegistry(fdb.db).keyOf(deviceId, String(header?.signer_kid ?? ''));
          if (!devicePk) throw new HindsightError(`device ${deviceId} has no registered key ${String(header?.signer_kid ?? '')} here`, { code: 'unknown_device', hint: 'pass --device-key' });
        }
        // Who opened what, from where, and where it was extracted to: every attempt is an audit row.
        const where = { folder: path.resolve(dir), ...(opts.out ? { out: path.resolve(opts.out) } : {}) };
        let r: Awaited<ReturnType<typeof openEnvelopeDir>>;
        try {
          r = await openEnvelopeDir(dir, devicePk, loadRecipientKeys(config.force.dir));
        } catch (err) {
          fdb.audit.append({ actor: fdb.actor, action: 'evidence.opened', result: 'error', detail: { ...where, message: errorMessage(err).slice(0, 300) } });
          throw err;
        }
        const pm = r.pkg.signed.manifest;
        const ids = [pm.incident_id, r.manifest.header.envelope_id];
        fdb.audit.append({ actor: fdb.actor, action: 'evidence.opened', objectIds: ids, sha256s: [r.manifest.body_sha256], detail: { ...where, device: pm.device_id, store: pm.store, files: r.pkg.files.size } });
        process.stdout.write(
          `VERIFIED: envelope ${r.manifest.header.envelope_id} from ${pm.device_id} (${pm.store}), incident ${pm.incident_id}\n` +
            `  device signature ok, body sha256 ${r.manifest.body_sha256} ok, package signature ok, ${r.pkg.files.size} files match their SHA-256\n` +
            `  window ${new Date(pm.window.start).toISOString()} .. ${new Date(pm.window.end).toISOString()}, ${pm.subjects.length} subjects, ${pm.clips.length} clip hashes, clock synced: ${pm.clock.synced}\n`,
        );
        if (opts.out) {
          const sha256s = pm.files.map((f) => f.sha256);
          try {
            const n = extractPackage(r.pkg, opts.out).length;
            fdb.audit.append({ actor: fdb.actor, action: 'evidence.extracted', objectIds: ids, sha256s, detail: { ...where, device: pm.device_id, files: n } });
            process.stdout.write(`extracted package-manifest.json and ${n} files to ${opts.out} (files in ${path.join(opts.out, 'files')})\n`);
          } catch (err) {
            fdb.audit.append({ actor: fdb.actor, action: 'evidence.extracted', objectIds: ids, sha256s, result: 'error', detail: { ...where, device: pm.device_id, message: errorMessage(err).slice(0, 300) } });
            throw err;
          }
        }
      });
    });

  force
    .command('incidents')
    .description('list the evidence received, with its verification status (--verify checks the stored envelopes and files again)')
    .option(...FORCE_CONFIG_OPTION)
    .option('--verify', 'verify each stored envelope again offline and hash the stored files')
    .option('--json', 'machine-readable output')
    .action(async (opts: { config?: string; verify?: boolean; json?: boolean }) => {
      const config = loadForceConfig(opts.config);
      const fdb = await openForceSession(config.force.dir);
      try {
        const rows = listIncidents(fdb.db);
        const status = new Map<string, string>();
        for (const r of rows) {
          status.set(r.envelope_id, Object.values(JSON.parse(r.verified) as Record<string, unknown>).every((v) => v === 'ok' || typeof v === 'number') ? 'ok' : 'FAILED');
          if (opts.verify) status.set(r.envelope_id, await reverify(fdb.db, r, loadRecipientKeys(config.force.dir), forcePaths(config.force.dir).store));
        }
        if (opts.verify) {
          const failed = rows.filter((r) => status.get(r.envelope_id) !== 'ok').map((r) => r.envelope_id);
          fdb.audit.append({ actor: fdb.actor, action: 'evidence.verified', objectIds: rows.map((r) => r.envelope_id), result: failed.length ? 'error' : 'ok', detail: { checked: rows.length, failed } });
        }
        const pending = new EnvelopesRepo(fdb.db).notStored().map((e) => ({ envelope_id: e.envelopeId, device_id: e.deviceId, state: e.state, reason: e.reason }));
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
    .option(...FORCE_CONFIG_OPTION)
    .option('--image <file>', 'probe photo (embedded with the same face pipeline as the boxes)')
    .option('--embedding <file>', 'probe embedding (float32 little-endian) instead of a photo')
    .option('--top <n>', 'how many results', intOption('--top', 1, 1000), 10)
    .option('--reason <text>', 'why this search is made, in at least three words (required; audited with the probe\'s SHA-256)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { config?: string; image?: string; embedding?: string; top: number; reason?: string; json?: boolean }) => {
      const reason = requireJustification(opts.reason);
      if (!opts.image === !opts.embedding) throw new UsageError('give exactly one of --image FILE or --embedding FILE');
      const config = loadForceConfig(opts.config);
      // The probe is read once: the bytes hashed for the audit are the bytes searched with.
      const probeFile = (opts.image ?? opts.embedding)!;
      let probeBytes: Buffer;
      try {
        probeBytes = readFileSync(probeFile);
      } catch (err) {
        throw new HindsightError(`cannot read the probe file ${probeFile}: ${errorMessage(err)}`, { code: 'bad_probe', hint: 'check the path' });
      }
      let probe: Float32Array;
      let model: string | undefined;
      if (opts.image) {
        const embedder = await loadProbeEmbedder();
        probe = await embedder.embedProbe(opts.image, probeBytes);
        model = embedder.model;
      } else {
        probe = toFloat32(probeBytes);
      }
      const fdb = await openForceSession(config.force.dir);
      try {
        const hits = searchSubjects(fdb.db, probe, { top: opts.top, model });
        fdb.audit.append({ actor: fdb.actor, action: 'evidence.searched', objectIds: hits.map((h) => h.envelopeId), sha256s: [sha256Hex(probeBytes)], justification: reason, detail: { results: hits.length, probe: opts.image ? 'image' : 'embedding' } });
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
