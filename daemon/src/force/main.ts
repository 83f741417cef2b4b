#!/usr/bin/env node
/**
 * `hindsight-force`: the force's own program (keys, enrollment of boxes, broker kit, receiver, offline
 * verification, search, the workbench, the fleet, the console). A shop box never needs it;
 * `hindsight force ...` still works: it runs this program.
 */
import type { Command } from 'commander';
import { quietOnClosedPipe } from '../program/output.js';
import { newProgram, registerCommands, runProgram, type CommandTable } from '../program/program.js';
import { narrowUmask } from '../util/secure-fs.js';

/** `fleet`'s subcommands that only read the fleet: alone, they register without the rest of `fleet` (signing, the protocol's schemas). */
const FLEET_READING = ['list', 'show'];

/**
 * The commands, in help order, each with the top-level names it registers and its module, imported only
 * when needed: `fleet list` does not load the receiver's broker client, the console's web server or the
 * face models (measured: about a second of start-up on a 2-core machine). `sub` is the word after the
 * command (`list` of `fleet list`).
 */
const commands = (sub: string | undefined): CommandTable => [
  [['keygen', 'rotate', 'revoke-key', 'enroll', 'register', 'revoke', 'broker-config'], async () => (await import('./cli/commands.js')).registerForceKeys],
  [['receive', 'open', 'incidents', 'search'], async () => (await import('./cli/evidence.js')).registerForceEvidence],
  [['gallery', 'triage', 'candidates', 'report', 'review', 'series'], async () => (await import('./cli/workbench.js')).registerForceWorkbench],
  [['fleet'], async () => (sub !== undefined && FLEET_READING.includes(sub) ? (await import('./cli/fleet-list.js')).registerFleetView : (await import('./cli/fleet.js')).registerFleet)],
  [['console'], async () => (await import('./cli/console.js')).registerForceConsole],
];

/** The program for the command line `words` (after the program's name): every command, or only the one they name when that is a known command. */
export async function buildForceProgram(words: string[]): Promise<Command> {
  return registerCommands(
    newProgram('hindsight-force', 'Hindsight at the police force: keys, enrollment of boxes, broker kit, evidence receiver, verification, triage, custody gallery, candidate lists, search, the fleet'),
    commands(words[1]),
    words[0],
  );
}

quietOnClosedPipe();
narrowUmask();
process.exitCode = await runProgram(await buildForceProgram(process.argv.slice(2)), process.argv);
