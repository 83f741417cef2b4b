import type { Command } from 'commander';
import { CONFIG_OPTION } from '../config-file.js';
import { daemonPaths } from '../../config/paths.js';
import { daemonVersion } from '../../app/version.js';
import { packageInputFromFolder } from '../../evidence/builder.js';
import { readFileSync } from 'node:fs';
import { installBundle, readBundle, shredBundle, isEnrolled, KeySetStore, loadEnrollment } from '../../uplink/enrollment.js';
import { createOutbox, createSealer } from '../../uplink/service.js';
import { systemClock } from '../../util/clock.js';
import { HindsightError } from '../../util/errors.js';
import { assertSafeId, newId } from '../../util/ids.js';
import { openCliStore } from '../open-store.js';
import { table } from '../output.js';


export function registerUplink(program: Command): void {
  program
    .command('enroll')
    .description("install the force's enrollment bundle on this box; creates the device signing key (0600) if absent and prints its public key for the force to register")
    .argument('<bundle>', 'enrollment bundle file from `hindsight force enroll`')
    .option(...CONFIG_OPTION)
    .option('--keep-bundle', 'do not delete the bundle file after installing it (it holds the MQTT password)')
    .option('--reset-force-root', 'accept a bundle from another force root key than the one pinned at first enrollment (audited)')
    .action(async (bundleFile: string, opts: { config?: string; keepBundle?: boolean; resetForceRoot?: boolean }) => {
      const box = await openCliStore(opts.config);
      try {
        const bundle = readBundle(bundleFile);
        const r = installBundle(bundle, { stateDir: box.paths.stateDir, deviceId: box.config.device.id, db: box.db, audit: box.audit, clock: systemClock, resetForceRoot: opts.resetForceRoot });
        if (!opts.keepBundle) shredBundle(bundleFile);
        process.stdout.write(
          [
            `enrolled: device ${r.deviceId} with broker ${bundle.mqtt.url}, force key set seq ${r.keysetSeq}`,
            `device signing key: ${r.keyCreated ? 'created' : 'kept (already present)'}`,
            `device key id: ${r.deviceKid}`,
            `device public key: ${r.devicePublicKey}`,
            '',
            'next: give the force this line to register the box:',
            `  hindsight force register --device ${r.deviceId} --key ${r.devicePublicKey}`,
            'then restart the daemon (systemctl restart hindsight) so the uplink connects.',
            '',
          ].join('\n'),
        );
      } finally {
        box.close();
      }
    });

  const evidence = program.command('evidence').description('evidence packages for the force (built and sealed by the incident pipeline; these commands are for operators and tests)');
  evidence
    .command('seal')
    .description('build an evidence package from a folder (clips/, crops/<subject>/*.jpg, embeddings/<subject>.f32, context/), seal it to the force and queue it in the outbox; the running daemon sends it')
    .requiredOption('--from <dir>', 'folder with the package files')
    .option('--incident <id>', 'incident id (default: a new id)')
    .option('--window <start,end>', 'incident window as two ISO times or epoch ms (default: the last 90 s)')
    .option('--embedding-model <name>', 'name of the model that made the embeddings', 'unknown')
    .option(...CONFIG_OPTION)
    .action(async (opts: { from: string; incident?: string; window?: string; embeddingModel: string; config?: string }) => {
      const box = await openCliStore(opts.config);
      try {
        if (!isEnrolled(box.paths.stateDir)) throw new HindsightError('this box is not enrolled', { code: 'not_enrolled', hint: 'run: hindsight enroll BUNDLE' });
        const ctx = { config: box.config, paths: daemonPaths(box.config), db: box.db, audit: box.audit, clock: systemClock, clockSync: box.clockSync };
        const outbox = createOutbox(ctx);
        const sealer = createSealer(ctx, outbox)!;
        const incidentId = assertSafeId(opts.incident ?? newId(), 'incident id');
        const now = systemClock.now();
        const [start, end] = (opts.window?.split(',') ?? []).map((t) => (/^\d+$/.test(t) ? Number(t) : Date.parse(t)));
        const window = start !== undefined && end !== undefined && Number.isFinite(start) && Number.isFinite(end) ? { start, end } : { start: now - 90_000, end: now };
        const input = packageInputFromFolder(opts.from, {
          incidentId,
          deviceId: box.config.device.id,
          store: box.config.device.store,
          window,
          embeddingModel: opts.embeddingModel,
          models: [],
          tools: { daemon: daemonVersion() },
          clock: box.clockSync.current(),
          now,
        });
        const sealed = await sealer.sealPackage(input);
        box.db.transaction(() => outbox.enqueue(sealed.sealed, { workingFiles: sealed.workingFiles }))();
        const m = sealed.sealed.manifest;
        process.stdout.write(`sealed incident ${incidentId} as envelope ${m.header.envelope_id}: ${m.header.pt_len} bytes, ${m.n_chunks} chunks, to force keys ${m.header.recipients.join(', ')}; queued\n`);
      } finally {
        box.close();
      }
    });

  const uplink = program.command('uplink').description('the link to the force');
  uplink
    .command('install-keyset')
    .description("install a newer force key set (keyset.json from the force); accepted only when signed by the pinned root key and with a higher seq")
    .argument('<file>', 'signed key set file')
    .option(...CONFIG_OPTION)
    .action(async (file: string, opts: { config?: string }) => {
      const box = await openCliStore(opts.config);
      try {
        if (!isEnrolled(box.paths.stateDir)) throw new HindsightError('this box is not enrolled', { code: 'not_enrolled', hint: 'run: hindsight enroll BUNDLE' });
        const root = loadEnrollment(box.paths.stateDir).force_root.pk;
        let signed: unknown;
        try {
          signed = JSON.parse(readFileSync(file, 'utf8'));
        } catch (err) {
          throw new HindsightError(`cannot read key set ${file}: ${(err as Error).message}`, { code: 'keyset_unreadable' });
        }
        const ks = new KeySetStore(box.db).install(signed, root, systemClock.now(), box.audit, 'uplink');
        process.stdout.write(`installed force key set seq ${ks.keyset.seq}: recipients ${ks.keyset.recipients.map((r) => r.kid).join(', ')}\n`);
      } finally {
        box.close();
      }
    });
  uplink
    .command('status')
    .description('enrollment, force key set and outbox (pending envelopes, bytes, oldest age)')
    .option(...CONFIG_OPTION)
    .option('--json', 'machine-readable output')
    .action(async (opts: { config?: string; json?: boolean }) => {
      const box = await openCliStore(opts.config);
      try {
        const outbox = createOutbox({ config: box.config, db: box.db, audit: box.audit, clock: systemClock });
        const keyset = new KeySetStore(box.db).current();
        const rows = box.db.prepare('SELECT envelope_id, incident_id, state, n_chunks, bytes, attempts, last_error FROM outbox ORDER BY msg_seq DESC LIMIT 20').all() as Record<string, unknown>[];
        const status = { enrolled: isEnrolled(box.paths.stateDir), keyset_seq: keyset?.keyset.seq ?? null, outbox: outbox.stats(), recent: rows };
        if (opts.json) {
          process.stdout.write(JSON.stringify(status, null, 2) + '\n');
          return;
        }
        process.stdout.write(`enrolled: ${status.enrolled ? 'yes' : 'no'}; force key set seq: ${status.keyset_seq ?? '-'}\n`);
        process.stdout.write(`outbox: ${status.outbox.pending} pending, ${status.outbox.bytes} bytes, oldest ${status.outbox.oldest_age_s === null ? '-' : `${Math.round(status.outbox.oldest_age_s)} s`}\n`);
        if (rows.length) process.stdout.write(table(['envelope', 'incident', 'state', 'chunks', 'bytes', 'attempts', 'last error'], rows.map((r) => [String(r.envelope_id), String(r.incident_id), String(r.state), String(r.n_chunks), String(r.bytes), String(r.attempts), String(r.last_error ?? '')])));
      } finally {
        box.close();
      }
    });
}
