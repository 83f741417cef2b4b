#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { daemonVersion } from '../app/version.js';
import { registerAnalyse } from './commands/analyse.js';
import { registerAudit } from './commands/audit.js';
import { registerBuffer } from './commands/buffer.js';
import { registerCamera } from './commands/camera.js';
import { registerConfig } from './commands/config.js';
import { registerDoctor } from './commands/doctor.js';
import { registerFaces } from './commands/faces.js';
import { registerIncident } from './commands/incident.js';
import { registerModels } from './commands/models.js';
import { registerRun } from './commands/run.js';
import { registerForce } from './commands/force.js';
import { registerUplink } from './commands/uplink.js';
import { EXIT_USAGE, reportError } from './output.js';

export function buildProgram(): Command {
  const program = new Command('hindsight')
    .description('Hindsight: incident-driven face evidence from shop CCTV, sealed to the police force')
    .showHelpAfterError('(add --help for usage)')
    .showSuggestionAfterError(true);

  registerRun(program);
  registerConfig(program);
  registerDoctor(program);
  registerModels(program);
  registerAudit(program);
  registerCamera(program);
  registerBuffer(program);
  registerIncident(program);
  registerUplink(program);
  registerForce(program);
  registerFaces(program);
  registerAnalyse(program);
  program
    .command('version')
    .description('print the version of Hindsight and of the runtime')
    .action(() => {
      process.stdout.write(`hindsight ${daemonVersion()} (node ${process.versions.node})\n`);
    });

  // Every (sub)command: usage errors exit 2, never call process.exit from inside commander.
  const configure = (cmd: Command): void => {
    cmd.exitOverride();
    cmd.commands.forEach(configure);
  };
  configure(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError && (err.code === 'commander.helpDisplayed' || err.code === 'commander.version')) return 0;
    // a command group without its subcommand ('hindsight config') prints help and is a usage error
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_USAGE;
    return reportError(err);
  }
}

const code = await main(process.argv);
process.exitCode = code;
