export { ManagedProcess as TestProcess, stopAllManaged as stopAllTestProcesses, descendants, isAlive } from '../../daemon/src/devkit/process.js';
