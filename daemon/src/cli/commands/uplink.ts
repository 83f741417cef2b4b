import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { OutboxRepo } from '../../db/repos/outbox.js';
import { shredBundle, isEnrolled, KeySetStore } from '../../uplink/enrollment.js';
import { evidenceSeal, uplinkEnroll, uplinkInstallKeySet } from '../../uplink/operations.js';
import { createOutbox } from '../../uplink/service.js';
import { systemClock } from '../../util/clock.js';
import { HindsightError, UsageError } from '../../util/errors.js';
import { CONFIG_OPTION } from '../config-file.js';
import { openCliDb } from '../open-db.js';
import { operate } from '../operate.js';
import { table } from '../../program/output.js';
import { parseTimeArg } from '../time-arg.js';

/** A file the operator names, read by the CLI (the daemon may not be allowed to read it) and sent as text. */
function readDocument(file: string, what: string, code: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new HindsightError(`cannot read ${what} ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : (e.code ?? e.message)}`, { code, hint: 'check the path and that you may read the file' });
  }
}

export function registerUplink(program: Command): void {
  program
    .command('enroll')
    .description("install the force's enrollment bundle on this box; creates the device signing key (0600) if absent and prints its public key for the force to register")
    .argument('<bundle>', 'enrollment bundle file from `hindsight force enroll`')
    .option(...CONFIG_OPTION)
    .option('--keep-bundle', 'do not delete the bundle file after installing it (it holds the MQTT password)')
    .option('--reset-force-root', 'accept a bundle from another force root key than the one pinned at first enrollment (audited)')
    .action(async (bundleFile: string, opts: { config?: string; keepBundle?: boolean; resetForceRoot?: boolean }) => {
      const bundle = readDocument(bundleFile, 'enrollment bundle', 'bundle_unreadable');
      const { result: r, inDaemon } = await operate(opts.config, uplinkEnroll, { bundle, label: bundleFile, resetForceRoot: opts.resetForceRoot ?? false });
      if (!opts.keepBundle) shredBundle(bundleFile);
      process.stdout.write(
        [
          `enrolled: device ${r.deviceId} with broker ${r.broker}, force key set seq ${r.keysetSeq}`,
          `device signing key: ${r.keyCreated ? 'created' : 'kept (already present)'}`,
          `device key id: ${r.deviceKid}`,
          `device public key: ${r.devicePublicKey}`,
          '',
          'next: give the force this line to register the box:',
          `  hindsight force register --device ${r.deviceId} --key ${r.devicePublicKey}`,
          inDaemon ? 'the running daemon connects to the force now.' : 'the daemon connects to the force when it starts (systemctl start hindsight).',
          '',
        ].join('\n'),
      );
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
      let window: { windowStartMs: number; windowEndMs: number } | undefined;
      if (opts.window !== undefined) {
        const parts = opts.window.split(',');
        if (parts.length !== 2) throw new UsageError(`--window takes two times separated by a comma, got ${JSON.stringify(opts.window)}`, { hint: 'e.g. --window "10 minutes ago,5 minutes ago"' });
        const now = Date.now();
        window = { windowStartMs: parseTimeArg(parts[0]!.trim(), now, '--window start'), windowEndMs: parseTimeArg(parts[1]!.trim(), now, '--window end') };
      }
      const { result: r, inDaemon } = await operate(opts.config, evidenceSeal, {
        from: path.resolve(opts.from),
        incident: opts.incident,
        embeddingModel: opts.embeddingModel,
        ...window,
      });
      process.stdout.write(
        `sealed incident ${r.incidentId} as envelope ${r.envelopeId}: ${r.bytes} bytes, ${r.chunks} chunks, to force keys ${r.recipients.join(', ')}; queued` +
          (inDaemon ? '\n' : ' (sent when the daemon runs)\n'),
      );
    });

  const uplink = program.command('uplink').description('the link to the force');
  uplink
    .command('install-keyset')
    .description("install a newer force key set (keyset.json from the force); accepted only when signed by the pinned root key and with a higher seq")
    .argument('<file>', 'signed key set file')
    .option(...CONFIG_OPTION)
    .action(async (file: string, opts: { config?: string }) => {
      const keyset = readDocument(file, 'key set', 'keyset_unreadable');
      const { result: ks } = await operate(opts.config, uplinkInstallKeySet, { keyset, label: file });
      process.stdout.write(`installed force key set seq ${ks.seq}: recipients ${ks.recipients.join(', ')}\n`);
    });
  uplink
    .command('status')
    .description('enrollment, force key set and outbox (pending envelopes, bytes, oldest age)')
    .option(...CONFIG_OPTION)
    .option('--json', 'machine-readable output')
    .action(async (opts: { config?: string; json?: boolean }) => {
      const box = await openCliDb(opts.config, { readonly: true });
      try {
        const outbox = createOutbox({ config: box.config, db: box.db, audit: box.audit, clock: systemClock });
        const keyset = new KeySetStore(box.db).current();
        const recent = new OutboxRepo(box.db).recent(20);
        const rows = recent.map((r) => ({ envelope_id: r.envelopeId, incident_id: r.incidentId, kind: r.kind, state: r.state, n_chunks: r.nChunks, bytes: r.bytes, attempts: r.attempts, last_error: r.lastError }));
        const status = { enrolled: isEnrolled(box.paths.stateDir), keyset_seq: keyset?.keyset.seq ?? null, outbox: outbox.stats(), recent: rows };
        if (opts.json) {
          process.stdout.write(JSON.stringify(status, null, 2) + '\n');
          return;
        }
        process.stdout.write(`enrolled: ${status.enrolled ? 'yes' : 'no'}; force key set seq: ${status.keyset_seq ?? '-'}\n`);
        process.stdout.write(`outbox: ${status.outbox.pending} pending, ${status.outbox.bytes} bytes, oldest ${status.outbox.oldest_age_s === null ? '-' : `${Math.round(status.outbox.oldest_age_s)} s`}\n`);
        if (rows.length) process.stdout.write(table(['envelope', 'incident', 'kind', 'state', 'chunks', 'bytes', 'attempts', 'last error'], rows.map((r) => [String(r.envelope_id), String(r.incident_id), r.kind, String(r.state), String(r.n_chunks), String(r.bytes), String(r.attempts), String(r.last_error ?? '')])));
      } finally {
        box.close();
      }
    });
}
