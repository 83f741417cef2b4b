import os from 'node:os';

/** Who acts when a person runs a command: their login name (recorded in audit rows as a `cli` actor). */
export function cliActor(): { type: 'cli'; id: string } {
  return { type: 'cli', id: os.userInfo().username };
}
