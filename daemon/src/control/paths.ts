import path from 'node:path';

/** The daemon's local control socket and the token that authenticates callers (both owner-only). */
export function controlPaths(stateDir: string): { socket: string; token: string } {
  return { socket: path.join(stateDir, 'control.sock'), token: path.join(stateDir, 'control.token') };
}
