#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { daemonVersion } from '../app/version.js';
import { EXIT_USAGE, quietOnClosedPipe, reportError } from './output.js';

type Register = (program: Command) => void;

/**
 * The commands, in help order, each with the top-level names it registers and its module, imported only
 * when needed: `hindsight analyse` does not load the daemon's, the uplink's or the force's modules, which
 * halves its start-up.
 */
const COMMANDS: [names: string[], load: () => Promise<Register>][] = [
  [['run'], async () => (await import('./commands/run.js')).registerRun],
  [['config'], async () => (await import('./commands/config.js')).registerConfig],
  [['doctor'], async () => (await import('./commands/doctor.js')).registerDoctor],
  [['models'], async () => (await import('./commands/models.js')).registerModels],
  [['audit'], async () => (await import('./commands/audit.js')).registerAudit],
  [['camera'], async () => (await import('./commands/camera.js')).registerCamera],
  [['buffer'], async () => (await import('./commands/buffer.js')).registerBuffer],
  [['incident'], async () => (await import('./commands/incident.js')).registerIncident],
  [['enroll', 'evidence', 'uplink'], async () => (await import('./commands/uplink.js')).registerUplink],
  [['force'], async () => (await import('./commands/force.js')).registerForce],
  [['faces'], async () => (await import('./commands/faces.js')).registerFaces],
  [['analyse'], async () => (await import('./commands/analyse.js')).registerAnalyse],
];

/** The program with every command, or only the one named `only` when that is a known command. */
export async function buildProgram(only?: string): Promise<Command> {
  const program = new Command('hindsight')
    .description('Hindsight: incident-driven face evidence from shop CCTV, sealed to the police force')
    .showHelpAfterError('(add --help for usage)')
    .showSuggestionAfterError(true)
    .version(`hindsight ${daemonVersion()} (node ${process.versions.node})`, '-V, --version', 'print the version');

  const known = only === 'version' || (only !== undefined && COMMANDS.some(([names]) => names.includes(only)));
  for (const [names, load] of COMMANDS) if (!known || names.includes(only)) (await load())(program);
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
  const program = await buildProgram(argv[2]);
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

quietOnClosedPipe();
const code = await main(process.argv);
process.exitCode = code;
