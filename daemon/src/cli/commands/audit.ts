import { once } from 'node:events';
import { constants as fsConstants, createWriteStream, fchmodSync, openSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import { AuditLog } from '../../audit/log.js';
import { CONFIG_OPTION } from '../config-file.js';
import { openCliDb } from '../open-db.js';
import { fileProblem } from '../../program/output.js';
import { intOption } from '../../program/args.js';

/** Read-only: verifying or exporting never writes or migrates (the daemon may be running). */
async function openAudit(configOption: string | undefined): Promise<{ audit: AuditLog; close: () => void }> {
  const store = await openCliDb(configOption, { readonly: true });
  return { audit: store.audit, close: () => store.close() };
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('verify or export the tamper-evident audit log');

  audit
    .command('verify')
    .description('check the hash chain of the audit log; names the first bad row; exit 1 if the log was altered')
    .option(...CONFIG_OPTION)
    .action(async (opts: { config?: string }) => {
      const { audit: log, close } = await openAudit(opts.config);
      try {
        const r = log.verify();
        if (r.ok) {
          process.stdout.write(`ok: ${r.count} audit rows, chain intact, head ${r.headHash}\n`);
        } else {
          const b = r.firstBad!;
          process.stdout.write(`ALTERED: audit row ${b.seq} (id ${b.id}): ${b.reason}\n${r.count} rows before it check out.\n`);
          process.stdout.write('what to do: keep the database file as evidence of tampering and report it to the force; do not repair it.\n');
          process.exitCode = 1;
        }
      } finally {
        close();
      }
    });

  audit
    .command('export')
    .description('write the audit log as JSON lines (one row per line, with its hashes)')
    .option(...CONFIG_OPTION)
    .option('--from <seq>', 'first row number', intOption('--from', 1, Number.MAX_SAFE_INTEGER), 1)
    .option('-o, --out <file>', 'write to a file instead of stdout')
    .action(async (opts: { config?: string; from: number; out?: string }) => {
      const from = opts.from;
      const { audit: log, close } = await openAudit(opts.config);
      let out: Writable = process.stdout;
      if (opts.out) {
        let fd: number;
        try {
          // never through a link planted at that name; an existing file becomes owner-only too
          fd = openSync(opts.out, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC | fsConstants.O_NOFOLLOW, 0o600);
          fchmodSync(fd, 0o600);
        } catch (err) {
          close();
          throw fileProblem(err, opts.out);
        }
        out = createWriteStream('', { fd });
      }
      try {
        for (const row of log.rows(from)) {
          if (!out.write(JSON.stringify(row) + '\n')) await once(out, 'drain');
        }
      } finally {
        close();
        if (opts.out) await new Promise<void>((resolve) => out.end(() => resolve()));
      }
    });
}
