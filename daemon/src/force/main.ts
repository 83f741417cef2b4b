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

/**
 * The commands, in help order, each with the top-level names it registers and its module, imported only
 * when needed: `fleet list` does not load the receiver's broker client, the console's web server or the
 * face models (measured: about a second of start-up on a 2-core machine).
 */
const COMMANDS: CommandTable = [
  [['keygen', 'rotate', 'revoke-key', 'enroll', 'register', 'revoke', 'broker-config'], async () => (await import('./cli/commands.js')).registerForceKeys],
  [['receive', 'open', 'incidents', 'search'], async () => (await import('./cli/evidence.js')).registerForceEvidence],
  [['gallery', 'triage', 'candidates', 'report', 'review', 'series'], async () => (await import('./cli/workbench.js')).registerForceWorkbench],
  [['fleet'], async () => (await import('./cli/fleet.js')).registerFleet],
  [['console'], async () => (await import('./cli/console.js')).registerForceConsole],
];

/** The program with every command, or only the one named `only` when that is a known command. */
export async function buildForceProgram(only?: string): Promise<Command> {
  return registerCommands(newProgram('hindsight-force', 'Hindsight at the police force: keys, enrollment of boxes, broker kit, evidence receiver, verification, triage, custody gallery, candidate lists, search, the fleet'), COMMANDS, only);
}

quietOnClosedPipe();
narrowUmask();
process.exitCode = await runProgram(await buildForceProgram(process.argv[2]), process.argv);
