import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import mqtt from 'mqtt';
import type { AuditActor, AuditLog } from '../audit/log.js';
import { MAX_PACKET_BYTES, mqttErrorText } from '../protocol/mqtt.js';
import { errorMessage, HindsightError, UsageError } from '../util/errors.js';
import { MAX_RECEIVERS, mosquittoPasswordLine, receiverUser, receiverUsers, removePasswdLine, upsertPasswdLine, writeBrokerAcl } from './broker-kit.js';
import { forceConfigLoader } from './config-loader.js';
import { forcePaths, receiverIdentityPaths } from './paths.js';
import { reloadBroker } from './revoke.js';

/**
 * `hindsight-force retire-receiver`: one of several receivers leaves for good. Stopping its process is not
 * enough: its persistent session at the broker stays in the shared subscription (for 7 days), and the
 * broker goes on handing it its share of the boxes' messages, queued for a receiver that never comes back
 * (the boxes send them again for want of a receipt, but an envelope whose chunks keep landing there is
 * slow to complete). So, in this order:
 *  1. its password is replaced by one only this command knows, and Mosquitto reloaded: a receiver still
 *     running under it is dropped and cannot log in again;
 *  2. the command logs in under it with a clean start and no session expiry: the broker ends its session,
 *     its queued messages and its place in the shared subscription (the boxes resend what they lose);
 *  3. its user leaves the password file and the ACL, its password and environment files are deleted, and
 *     Mosquitto is reloaded again.
 * Only the highest-numbered receiver is retired, so the receivers stay 1..N as `broker-config --receivers`
 * makes them; receiver 1 (keygen's `svc.force`, force.yaml's own login) is never retired.
 */

export interface RetiredReceiver {
  n: number;
  username: string;
  /** The receivers' users left with the receiver's rights in the ACL. */
  remaining: string[];
  /** The broker process reloaded. */
  pid: number;
}

/** How long step 2 keeps trying to log in while Mosquitto reloads its password file (a reload takes milliseconds). */
const LOGIN_ATTEMPTS = 10;
const LOGIN_RETRY_MS = 300;

/** The receivers 2..N that have a broker identity (a password file from `broker-config --receivers`). */
export function receiverIdentities(dir: string): number[] {
  const out: number[] = [];
  for (let n = 2; n <= MAX_RECEIVERS; n++) if (existsSync(receiverIdentityPaths(dir, n).passwordFile)) out.push(n);
  return out;
}

export async function retireReceiver(o: { dir: string; n: number; audit: AuditLog; actor: AuditActor; env?: NodeJS.ProcessEnv }): Promise<RetiredReceiver> {
  const { dir, n } = o;
  const have = receiverIdentities(dir);
  if (n === 1) throw new UsageError('receiver 1 (svc.force) is the installation\'s own broker login and is not retired', { hint: 'retire receivers 2 and up; to move receiver 1, run it elsewhere with the same force.yaml' });
  if (!have.includes(n)) {
    throw new UsageError(`receiver ${n} has no broker identity in ${forcePaths(dir).dir}`, { hint: have.length ? `the receivers with one: ${have.join(', ')}` : 'there is only receiver 1 (svc.force)' });
  }
  const highest = Math.max(...have);
  if (n !== highest) throw new UsageError(`receiver ${n} is not the last one: retire receiver ${highest} first`, { hint: 'receivers stay numbered 1..N (`broker-config --receivers N`); retire from the highest down, and renumber a unit if you must keep one in the middle' });

  const config = forceConfigLoader.loadFile(forcePaths(dir).config, o.env ?? process.env);
  const username = receiverUser(n);
  const paths = forcePaths(dir);
  const { passwordFile, envFile } = receiverIdentityPaths(dir, n);

  // 1. a password only this command knows (in memory; the receiver's own password file keeps the old one, so
  // a receiver its service manager restarts cannot log in again): whatever runs under it is dropped at the reload
  const secret = randomBytes(24).toString('base64url');
  upsertPasswdLine(paths.brokerPasswd, mosquittoPasswordLine(username, secret), 'service');
  reloadBroker(config.broker.pid_file);

  // 2. its session ends at the broker: a clean start with no session expiry
  await endSession(config.mqtt.url, readFileSync(config.mqtt.ca_file), username, secret);

  // 3. nothing of it is left
  const remaining = receiverUsers(n - 1);
  writeBrokerAcl(dir, config.force.prefix, remaining);
  removePasswdLine(paths.brokerPasswd, username, 'service');
  rmSync(passwordFile, { force: true });
  rmSync(envFile, { force: true });
  const pid = reloadBroker(config.broker.pid_file);
  o.audit.append({ actor: o.actor, action: 'broker.receiver_retired', objectIds: [username], detail: { receiver: n, remaining } });
  return { n, username, remaining, pid };
}

/** Log in as `username` with a clean start and session expiry 0, then leave: the broker forgets its session. */
async function endSession(url: string, ca: Buffer, username: string, password: string): Promise<void> {
  let last = '';
  for (let attempt = 1; attempt <= LOGIN_ATTEMPTS; attempt++) {
    try {
      const client = await mqtt.connectAsync(url, {
        protocolVersion: 5,
        clientId: username,
        username,
        password,
        ca,
        rejectUnauthorized: true,
        clean: true,
        reconnectPeriod: 0,
        connectTimeout: 5000,
        properties: { sessionExpiryInterval: 0, maximumPacketSize: MAX_PACKET_BYTES },
      });
      await client.endAsync();
      return;
    } catch (err) {
      last = err instanceof Error ? mqttErrorText(err) : errorMessage(err);
      await new Promise((r) => setTimeout(r, LOGIN_RETRY_MS));
    }
  }
  throw new HindsightError(`cannot log in to the broker as ${username} to end its session: ${last}`, {
    code: 'broker_session_not_ended',
    hint: `its password was replaced (so nothing can run under it) but the broker may still hold its session: check the broker at ${url} is up and force.yaml's mqtt.url and mqtt.ca_file, then run this command again`,
  });
}
