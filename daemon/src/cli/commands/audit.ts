import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import { AuditLog } from '../../audit/log.js';
import { daemonPaths } from '../../config/paths.js';
import { openDatabase } from '../../store/db.js';
import { systemClock } from '../../util/clock.js';
import { UsageError } from '../../util/errors.js';
import { CONFIG_OPTION, loadCliConfig } from '../config-file.js';

function openAudit(configOption: string | undefined): { audit: AuditLog; close: () => void } {
  const db = openDatabase(daemonPaths(loadCliConfig(configOption)).database, { readonly: true });
  return { audit: new AuditLog(db, systemClock), close: () => db.close() };
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('verify or export the tamper-evident audit log');

  audit
    .command('verify')
    .description('check the hash chain of the audit log; names the first bad row; exit 1 if the log was altered')
    .option(...CONFIG_OPTION)
    .action((opts: { config?: string }) => {
      const { audit: log, close } = openAudit(opts.config);
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
    .option('--from <seq>', 'first row number', '1')
    .option('-o, --out <file>', 'write to a file instead of stdout')
    .action(async (opts: { config?: string; from: string; out?: string }) => {
      const from = Number(opts.from);
      if (!Number.isInteger(from) || from < 1) throw new UsageError(`--from must be a row number >= 1, not ${JSON.stringify(opts.from)}`);
      const { audit: log, close } = openAudit(opts.config);
      const out: Writable = opts.out ? createWriteStream(opts.out) : process.stdout;
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
