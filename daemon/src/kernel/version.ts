/**
 * The daemon's version is read from the installation (config/version.ts), where the programs' shared
 * scaffolding (program/), which sits below the kernel, reads it too.
 */
export { daemonVersion } from '../config/version.js';
