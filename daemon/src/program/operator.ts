import os from 'node:os';
import { peerActor, type CliActor } from '../control/peer.js';

/**
 * Who acts when a command runs on a stopped daemon's database: the user running it, named as the
 * daemon names a control-socket caller (recorded in audit rows as a `cli` actor).
 */
export function cliActor(): CliActor {
  return peerActor({ uid: os.userInfo().uid, user: os.userInfo().username });
}
