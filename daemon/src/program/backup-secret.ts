import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { promptHidden } from './prompt.js';
import { UsageError } from '../util/errors.js';
import { readNoFollow } from '../util/secure-fs.js';
import type { BackupSecret } from '../crypto/backup-file.js';

/** How a backup is encrypted, as the `backup`/`restore` commands of both programs take it. */
export interface SecretOptions {
  passphraseFile?: string;
  passphraseStdin?: boolean;
  keyFile?: string;
}

const SECRET_OPTIONS: [string, string][] = [
  ['--passphrase-file <file>', 'encrypt/decrypt with the passphrase in FILE (its first line)'],
  ['--passphrase-stdin', 'read the passphrase from standard input (asked for on a terminal)'],
  ['--key-file <file>', 'encrypt/decrypt with a 256-bit key file instead (64 hex characters, e.g. `openssl rand -hex 32 > FILE`; keep it owner-only)'],
];

/** Add the three ways to give the secret to a `backup` or `restore` command. */
export function withSecretOptions<C extends Command>(c: C): C {
  for (const [flags, description] of SECRET_OPTIONS) c.option(flags, description);
  return c;
}

const MIN_PASSPHRASE = 12;

/** The passphrase or key a backup is encrypted with; never from the command line itself (the process list shows it). */
export async function readBackupSecret(o: SecretOptions, confirm: boolean): Promise<BackupSecret> {
  const given = [o.passphraseFile, o.passphraseStdin, o.keyFile].filter((x) => x !== undefined && x !== false).length;
  if (given !== 1) {
    throw new UsageError(given === 0 ? 'a backup is always encrypted: say with what' : 'give one of --passphrase-file, --passphrase-stdin or --key-file', {
      hint: 'add --passphrase-file FILE, --passphrase-stdin, or --key-file FILE (a key made with `openssl rand -hex 32 > FILE`)',
    });
  }
  if (o.keyFile) {
    let text: string;
    try {
      text = readNoFollow(o.keyFile, (st) => {
        if (st.mode & 0o077) throw new UsageError(`key file ${o.keyFile} is readable by others (mode ${(st.mode & 0o777).toString(8)})`, { hint: `chmod 600 ${o.keyFile}` });
      }).data.toString('utf8').trim();
    } catch (err) {
      if (err instanceof UsageError) throw err;
      throw new UsageError(`cannot read key file ${o.keyFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { hint: 'make one with `openssl rand -hex 32 > FILE; chmod 600 FILE`' });
    }
    if (!/^[0-9a-fA-F]{64}$/.test(text)) throw new UsageError(`key file ${o.keyFile} does not hold 64 hex characters`, { hint: 'make one with `openssl rand -hex 32 > FILE; chmod 600 FILE`' });
    return { kind: 'key', key: Buffer.from(text, 'hex') };
  }
  let passphrase: string;
  try {
    if (o.passphraseFile) passphrase = readFileSync(o.passphraseFile, 'utf8').split(/\r?\n/)[0] ?? '';
    else if (process.stdin.isTTY) {
      passphrase = await promptHidden('backup passphrase: ');
      if (confirm && (await promptHidden('again: ')) !== passphrase) throw new UsageError('the two passphrases differ');
    } else passphrase = readFileSync(0, 'utf8').split(/\r?\n/)[0] ?? '';
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read the passphrase: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { hint: 'name a readable file with --passphrase-file, or pipe it in with --passphrase-stdin' });
  }
  if (confirm && passphrase.length < MIN_PASSPHRASE) throw new UsageError(`the passphrase has ${passphrase.length} characters; at least ${MIN_PASSPHRASE} are needed`, { hint: 'use a longer passphrase (several words), or a key file' });
  if (passphrase.length === 0) throw new UsageError('the passphrase is empty');
  return { kind: 'passphrase', passphrase: Buffer.from(passphrase, 'utf8') };
}
