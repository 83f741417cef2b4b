import { quietOnClosedPipe } from '../program/output.js';
import { finishProgram, newProgram, runProgram } from '../program/program.js';
import { narrowUmask } from '../util/secure-fs.js';
import { registerFleetView } from './cli/fleet-list.js';
import { FORCE_PROGRAM } from './program-name.js';

/**
 * `hindsight-force fleet list` and `fleet show` as a program of their own: what an admin (or a script
 * polling a thousand boxes) runs most, started with nothing else loaded. The build also bundles this file
 * with its imports into one (fleet-view-main.bundle.js), which starts faster still; main.ts picks it.
 */
export function runFleetView(argv: string[]): Promise<number> {
  quietOnClosedPipe();
  narrowUmask();
  const program = newProgram(FORCE_PROGRAM.name, FORCE_PROGRAM.description);
  registerFleetView(program);
  return runProgram(finishProgram(program), argv);
}
