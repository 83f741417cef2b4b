import path from 'node:path';

/**
 * The daemon's local control socket and the token that authenticates callers (both owner-only), in the
 * runtime folder (`paths.runtime_dir`: /run/hindsight under systemd, else the state folder). Both live
 * only while the daemon runs, and only root and the daemon's user can open them.
 */
export function controlPaths(runtimeDir: string): { socket: string; token: string } {
  return { socket: path.join(runtimeDir, 'control.sock'), token: path.join(runtimeDir, 'control.token') };
}
