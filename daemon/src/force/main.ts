#!/usr/bin/env node
/**
 * `hindsight-force`: the force's own program (keys, enrollment of boxes, broker kit, receiver, offline
 * verification, search). A shop box never needs it; `hindsight force ...` still works: it runs this program.
 */
import { quietOnClosedPipe } from '../program/output.js';
import { finishProgram, newProgram, runProgram } from '../program/program.js';
import { narrowUmask } from '../util/secure-fs.js';
import { registerForceCommands } from './cli/commands.js';

quietOnClosedPipe();
narrowUmask();
const program = newProgram('hindsight-force', 'Hindsight at the police force: keys, enrollment of boxes, broker kit, evidence receiver, verification, triage, custody gallery, candidate lists, search');
registerForceCommands(program);
process.exitCode = await runProgram(finishProgram(program), process.argv);
