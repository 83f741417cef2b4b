#!/usr/bin/env node
import type { Command } from 'commander';
import { quietOnClosedPipe } from '../program/output.js';
import { newProgram, registerCommands, runProgram, type CommandTable } from '../program/program.js';
import { narrowUmask } from '../util/secure-fs.js';

/**
 * The commands, in help order, each with the top-level names it registers and its module, imported only
 * when needed: `hindsight analyse` does not load the daemon's, the uplink's or the force's modules, which
 * halves its start-up.
 */
const COMMANDS: CommandTable = [
  [['run'], async () => (await import('./commands/run.js')).registerRun],
  [['config'], async () => (await import('./commands/config.js')).registerConfig],
  [['doctor'], async () => (await import('./commands/doctor.js')).registerDoctor],
  [['models'], async () => (await import('./commands/models.js')).registerModels],
  [['audit'], async () => (await import('./commands/audit.js')).registerAudit],
  [['backup', 'restore'], async () => (await import('./commands/backup.js')).registerBackup],
  [['camera'], async () => (await import('./commands/camera.js')).registerCamera],
  [['buffer'], async () => (await import('./commands/buffer.js')).registerBuffer],
  [['incident'], async () => (await import('./commands/incident.js')).registerIncident],
  [['web'], async () => (await import('./commands/web.js')).registerWeb],
  [['system'], async () => (await import('./commands/system.js')).registerSystem],
  [['enroll', 'evidence', 'uplink'], async () => (await import('./commands/uplink.js')).registerUplink],
  // the force's commands live in their own program (hindsight-force); this spelling keeps working, unlisted
  [['force'], async () => (await import('./commands/force.js')).registerForce],
  [['faces'], async () => (await import('./commands/faces.js')).registerFaces],
  [['analyse'], async () => (await import('./commands/analyse.js')).registerAnalyse],
];

/** The program with every command, or only the one named `only` when that is a known command. */
export async function buildProgram(only?: string): Promise<Command> {
  return registerCommands(newProgram('hindsight', 'Hindsight: incident-driven face evidence from shop CCTV, sealed to the police force'), COMMANDS, only);
}

export async function main(argv: string[]): Promise<number> {
  return runProgram(await buildProgram(argv[2]), argv);
}

quietOnClosedPipe();
narrowUmask();
const code = await main(process.argv);
process.exitCode = code;
