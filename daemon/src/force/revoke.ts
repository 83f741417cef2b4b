import { existsSync, readFileSync } from 'node:fs';
import type { AuditActor, AuditLog } from '../audit/log.js';
import type { Db } from '../db/db.js';
import { errorMessage, HindsightError, UsageError } from '../util/errors.js';
import { removePasswdLine } from './broker-kit.js';
import { forceConfigLoader } from './config-loader.js';
import type { ForceConfig } from './config.js';
import { forcePaths } from './paths.js';
import { DeviceRegistry } from './registry.js';

/**
 * `hindsight-force revoke`: a lost or stolen box loses the force and the broker at once. The force
 * database marks it revoked (its evidence and health are refused); its line leaves the broker's password
 * file and Mosquitto is sent SIGHUP. At a reload Mosquitto checks every live connection against the new
 * password file and drops those whose user is gone (measured on 2.0.11 with the kit's own config:
 * within ~60 ms; test/integration/force/revoke.test.ts), and a new login is refused as not authorized.
 * So no session takeover is needed, and the force never has to log in as the box.
 */

/** What was done at the broker, as the `device.revoked` audit row records it. */
export interface BrokerCut {
  /** The box's line was removed from the password file by this run (false: there was none, or removing it failed). */
  passwd_removed: boolean;
  /** Mosquitto was sent SIGHUP after the line was gone: the reload drops the box's live connection. */
  reloaded: boolean;
  /** The broker process signalled. */
  pid: number | null;
  /** What failed: until the broker reloads a password file without the box, the box can stay connected. */
  error?: string;
  /** Why nothing was done at the broker: the box never had a user in the password file, so no broker let it in by it. */
  skipped?: string;
}

export interface RevokeResult {
  alreadyRevoked: boolean;
  passwdFile: string;
  broker: BrokerCut;
  /** Set when the broker part failed; the revocation in the database and its audit row stand. */
  failure?: HindsightError;
}

export function revokeDevice(o: { db: Db; audit: AuditLog; actor: AuditActor; dir: string; deviceId: string; reason: string; env?: NodeJS.ProcessEnv }): RevokeResult {
  const registry = new DeviceRegistry(o.db);
  const device = registry.get(o.deviceId);
  if (!device) throw new UsageError(`device ${o.deviceId} is not enrolled here`, { hint: 'check the device id (`hindsight-force fleet list` shows the boxes)' });
  const passwdFile = forcePaths(o.dir).brokerPasswd;
  // Every broker step is synchronous and fails fast (a file, a signal), and none can stop the revocation below.
  const { cut, failure } = cutBrokerAccess(o.dir, o.deviceId, passwdFile, device.revoked, o.env ?? process.env);
  o.db.transaction(() => {
    registry.revoke(o.deviceId);
    o.audit.append({ actor: o.actor, action: 'device.revoked', objectIds: [o.deviceId], justification: o.reason, detail: { broker: cut, ...(device.revoked ? { already_revoked: true } : {}) } });
  })();
  return { alreadyRevoked: device.revoked, passwdFile, broker: cut, failure };
}

/**
 * Remove the box's line, then reload the broker: when a line went now, and when the box was revoked before
 * (this run finishes one whose reload failed). A box that never had a line (`force enroll` writes one; a
 * box registered by other means has none) signals no broker: the default pid file may be another one's.
 */
function cutBrokerAccess(dir: string, deviceId: string, passwdFile: string, alreadyRevoked: boolean, env: NodeJS.ProcessEnv): { cut: BrokerCut; failure?: HindsightError } {
  const cut: BrokerCut = { passwd_removed: false, reloaded: false, pid: null };
  const fail = (what: string, err: unknown, hint: string): { cut: BrokerCut; failure: HindsightError } => {
    cut.error = `${what}: ${errorMessage(err)}`;
    const more = err instanceof HindsightError && err.hint ? `; ${err.hint}` : '';
    return {
      cut,
      failure: new HindsightError(`${deviceId} is revoked in the force database, but the broker still lets it in: ${cut.error}`, { code: 'broker_not_reloaded', hint: `${hint}${more}` }),
    };
  };
  const byHand = 'sudo systemctl reload mosquitto, or sudo kill -HUP <its pid>';
  const reloadNow = `until Mosquitto reloads, ${deviceId} can stay connected: reload it by hand now (${byHand})`;
  try {
    cut.passwd_removed = removePasswdLine(passwdFile, deviceId);
  } catch (err) {
    return fail(`cannot remove its line from ${passwdFile}`, err, `remove the line that starts with "${deviceId}:" from ${passwdFile} by hand, then reload Mosquitto (${byHand})`);
  }
  if (!cut.passwd_removed && !alreadyRevoked) return { cut: { ...cut, skipped: `no broker user for it in ${passwdFile}` } };
  let pidFile: string;
  try {
    pidFile = brokerSettings(dir, env).pid_file;
  } catch (err) {
    return fail(`cannot read the broker settings in ${forcePaths(dir).config}`, err, `${reloadNow}; then fix force.yaml`);
  }
  try {
    cut.pid = reloadBroker(pidFile);
    cut.reloaded = true;
  } catch (err) {
    return fail('cannot reload the broker', err, reloadNow);
  }
  return { cut };
}

/** The `broker:` section of the installation's force.yaml (DIR/force.yaml), or its defaults when there is none. */
function brokerSettings(dir: string, env: NodeJS.ProcessEnv): ForceConfig['broker'] {
  const file = forcePaths(dir).config;
  return (existsSync(file) ? forceConfigLoader.loadFile(file, env) : forceConfigLoader.build({}, { env })).broker;
}

/**
 * Send SIGHUP to the Mosquitto named by `pidFile`; returns its pid. A stale pid file may name some other
 * process by now: only a process called mosquitto is signalled.
 */
export function reloadBroker(pidFile: string): number {
  const setting = 'broker.pid_file in force.yaml must be the pid_file of the running Mosquitto';
  let text: string;
  try {
    text = readFileSync(pidFile, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file (is Mosquitto running?)' : errorMessage(err);
    throw new HindsightError(`cannot read the broker's pid file ${pidFile}: ${why}`, { code: 'broker_pid_file', hint: setting });
  }
  const pid = /^\s*(\d{1,10})\s*$/.exec(text) ? Number(text.trim()) : 0;
  if (pid <= 1) throw new HindsightError(`the broker's pid file ${pidFile} does not hold a process id`, { code: 'broker_pid_file', hint: setting });
  if (existsSync('/proc/self/comm')) {
    let name: string;
    try {
      name = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      throw new HindsightError(`no process ${pid} (from ${pidFile}): the broker is not running`, { code: 'broker_not_running', hint: 'start Mosquitto; it reads the password file as it starts' });
    }
    if (name !== 'mosquitto') throw new HindsightError(`process ${pid} (from ${pidFile}) is ${JSON.stringify(name)}, not mosquitto: not signalled`, { code: 'broker_pid_file', hint: `a stale pid file? ${setting}` });
  }
  try {
    process.kill(pid, 'SIGHUP');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EPERM') throw new HindsightError(`not allowed to signal the broker (pid ${pid}): it runs as another user`, { code: 'broker_signal_denied', hint: 'to have revoke do it, run revoke as root (sudo) or as the broker\'s user' });
    if (code === 'ESRCH') throw new HindsightError(`no process ${pid} (from ${pidFile}): the broker is not running`, { code: 'broker_not_running', hint: 'start Mosquitto; it reads the password file as it starts' });
    throw err;
  }
  return pid;
}
