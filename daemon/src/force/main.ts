#!/usr/bin/env node
/**
 * `hindsight-force`: the force's own program (keys, enrollment of boxes, broker kit, receiver, offline
 * verification, search, the workbench, the fleet, the console). A shop box never needs it;
 * `hindsight force ...` still works: it runs this program.
 */
import { existsSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import type { CommandTable } from '../program/program.js';
import { FORCE_PROGRAM } from './program-name.js';

/** `fleet`'s subcommands that only read the fleet: they run as a program of their own (fleet-view-main.ts), without the rest of `fleet` (signing, the protocol's schemas). */
const FLEET_READING = ['list', 'show'];

/**
 * The commands, in help order, each with the top-level names it registers and its module, imported only
 * when needed: `fleet list` does not load the receiver's broker client, the console's web server or the
 * face models (measured: about a second of start-up on a 2-core machine).
 */
const commands = (): CommandTable => [
  [['keygen', 'rotate', 'revoke-key', 'enroll', 'register', 'revoke', 'retire-receiver', 'broker-config'], async () => (await import('./cli/commands.js')).registerForceKeys],
  [['receive', 'open', 'incidents', 'search'], async () => (await import('./cli/evidence.js')).registerForceEvidence],
  [['gallery', 'triage', 'candidates', 'report', 'review', 'series'], async () => (await import('./cli/workbench.js')).registerForceWorkbench],
  [['fleet'], async () => (await import('./cli/fleet.js')).registerFleet],
  [['console'], async () => (await import('./cli/console.js')).registerForceConsole],
  [['backup', 'restore'], async () => (await import('./cli/backup.js')).registerForceBackup],
];

/** The program for the command line `words` (after the program's name): every command, or only the one they name when that is a known command. */
export async function buildForceProgram(words: string[]): Promise<Command> {
  const { newProgram, registerCommands } = await import('../program/program.js');
  return registerCommands(newProgram(FORCE_PROGRAM.name, FORCE_PROGRAM.description), commands(), words[0]);
}

/**
 * The fleet view's own program: its one-file bundle when the build made one at least as new as the
 * compiled file (a build that skipped the bundle leaves no stale copy in use), else the compiled module.
 */
async function fleetView(): Promise<{ runFleetView: (argv: string[]) => Promise<number> }> {
  const bundle = new URL('./fleet-view-main.bundle.js', import.meta.url);
  const compiled = new URL('./fleet-view-main.js', import.meta.url);
  if (existsSync(bundle) && existsSync(compiled) && statSync(bundle).mtimeMs >= statSync(compiled).mtimeMs) return import(bundle.href) as Promise<{ runFleetView: (argv: string[]) => Promise<number> }>;
  return import('./fleet-view-main.js');
}

// Nothing but node:fs is loaded before this choice: the fleet view's bundle carries its own copy of the rest.
const words = process.argv.slice(2);
if (words[0] === 'fleet' && words[1] !== undefined && FLEET_READING.includes(words[1])) {
  process.exitCode = await (await fleetView()).runFleetView(process.argv);
} else {
  const [{ quietOnClosedPipe }, { narrowUmask }, { runProgram }] = await Promise.all([import('../program/output.js'), import('../util/secure-fs.js'), import('../program/program.js')]);
  quietOnClosedPipe();
  narrowUmask();
  process.exitCode = await runProgram(await buildForceProgram(words), process.argv);
}
