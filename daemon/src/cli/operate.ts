import { daemonPaths } from '../config/paths.js';
import { callRoute } from '../control/client.js';
import { OPERATION_ROUTE, type Operation } from '../control/operations.js';
import { cliActor } from '../program/operator.js';
import { HindsightError } from '../util/errors.js';
import { loadCliConfig } from './config-file.js';
import { withCliDb } from './open-db.js';

export interface Operated<O> {
  result: O;
  /** True when the running daemon did it; false when the daemon was stopped and the CLI did it itself. */
  inDaemon: boolean;
}

/**
 * Run a state-changing operation the way the box allows it: through the running daemon (the single writer,
 * which applies every rule and audit), or, only when no daemon is running, on the database directly with
 * the same code. A daemon that is running but refuses is never bypassed.
 */
export async function operate<I extends object, O>(configOption: string | undefined, op: Operation<I, O>, input: I): Promise<Operated<O>> {
  const config = loadCliConfig(configOption);
  const paths = daemonPaths(config);
  try {
    // the daemon takes the actor from the caller's proven user, not from the request
    const r = await callRoute(paths.runtimeDir, OPERATION_ROUTE, { params: { name: op.name }, body: { input } });
    // The daemon ran the same operation object, whose type says what its result is.
    return { result: r.result as O, inDaemon: true };
  } catch (err) {
    if (!(err instanceof HindsightError) || err.code !== 'daemon_not_running') throw err;
  }
  return withCliDb(configOption, async (store) => ({
    result: await op.run({ ...store, actor: cliActor(), inDaemon: false, notify: () => undefined }, input),
    inDaemon: false,
  }));
}
