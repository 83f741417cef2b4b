import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { chownSync, existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { writeSecretFile } from '../crypto/keys.js';
import { mosquittoAcl } from '../protocol/acl.js';
import { BROKER_MESSAGE_SIZE_LIMIT } from '../protocol/mqtt.js';
import { HindsightError } from '../util/errors.js';
import { assertSafeId } from '../util/ids.js';
import { ensurePrivateDir, writeFileAtomic } from '../util/secure-fs.js';
import { forcePaths, receiverIdentityPaths } from './paths.js';

/**
 * The broker kit the force installs on its Mosquitto: ACL generated from the protocol topic table,
 * password file (PBKDF2-SHA512 `$7$` lines, the format mosquitto_passwd writes), and a config snippet.
 */

export function mosquittoPasswordLine(username: string, password: string, iterations = 101): string {
  const salt = randomBytes(12);
  const hash = pbkdf2Sync(password, salt, iterations, 64, 'sha512');
  return `${username}:$7$${iterations}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/**
 * Broker users of the force's own services live in their own namespace, `svc.<name>`: a device id
 * cannot contain a dot, so no box can be enrolled under a service's name and inherit its password or ACL.
 */
export const SERVICE_USER_PREFIX = 'svc.';

/** The broker user of the force receiver (and the default of `mqtt.username` in force.yaml). */
export const FORCE_SERVICE_USER = 'svc.force';

/** The most receivers `broker-config --receivers` makes identities for. */
export const MAX_RECEIVERS = 64;

/** The broker user of receiver `n` (from 1): `svc.force`, then `svc.force-2`, `svc.force-3`, ... */
export function receiverUser(n: number): string {
  return n === 1 ? FORCE_SERVICE_USER : `${FORCE_SERVICE_USER}-${n}`;
}

/** The broker users of `count` receivers, each with the receiver's rights in the ACL. */
export function receiverUsers(count: number): string[] {
  return Array.from({ length: count }, (_, i) => receiverUser(i + 1));
}

export function assertServiceUser(name: string): string {
  if (!/^svc\.[A-Za-z0-9_-]{1,60}$/.test(name)) {
    throw new HindsightError(`broker service user ${JSON.stringify(name).slice(0, 80)} is not in the service namespace`, { code: 'bad_service_user', hint: 'service users are named svc.<name> (letters, digits, "-", "_")' });
  }
  return name;
}

export type BrokerUserKind = 'device' | 'service';

/**
 * Add or replace one user's line in a Mosquitto password file (0600). A device line replaces an existing
 * line only when `replaceDevice` says that user is a box this force enrolled (never another kind of user).
 */
export function upsertPasswdLine(file: string, line: string, kind: BrokerUserKind, replaceDevice = false): void {
  const user = line.slice(0, line.indexOf(':'));
  if (kind === 'service') assertServiceUser(user);
  else assertSafeId(user, 'device id');
  const all = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l) : [];
  const lines = all.filter((l) => !l.startsWith(`${user}:`));
  if (kind === 'device' && !replaceDevice && lines.length !== all.length) {
    throw new HindsightError(`broker user ${user} already exists and is not a box enrolled here`, { code: 'broker_user_taken', hint: 'choose another device id; the existing broker user is left unchanged' });
  }
  lines.push(line);
  writeSecretFile(file, lines.join('\n') + '\n');
}

/**
 * Remove one user's line from a Mosquitto password file: a revoked box, or (`kind` 'service') a retired
 * receiver. A device id is checked as one, so revoking a box never removes a service user's line. Returns
 * false when the file has no line for it.
 *
 * The file keeps its owner and group: the command that sends the broker SIGHUP may run as root, and a
 * password file left to root would no longer be readable by the broker at its reload.
 */
export function removePasswdLine(file: string, deviceId: string, kind: BrokerUserKind = 'device'): boolean {
  if (kind === 'service') assertServiceUser(deviceId);
  else assertSafeId(deviceId, 'device id');
  if (!existsSync(file)) return false;
  const before = statSync(file);
  const all = readFileSync(file, 'utf8').split('\n').filter((l) => l);
  const lines = all.filter((l) => !l.startsWith(`${deviceId}:`));
  if (lines.length === all.length) return false;
  writeSecretFile(file, lines.length ? lines.join('\n') + '\n' : '');
  const after = statSync(file);
  if (after.uid !== before.uid || after.gid !== before.gid) chownSync(file, before.uid, before.gid);
  return true;
}

export interface BrokerKit {
  acl: string;
  passwd: string;
  conf: string;
}

export interface BrokerKitOptions {
  prefix: string;
  forceUsers: string[];
  port?: number;
  /** Address the TLS listener binds to (default: every address). */
  bind?: string;
  certfile?: string;
  keyfile?: string;
  cafile?: string;
}

/**
 * The broker's limits, the same in the kit and in the test and demo brokers. Every client of the project
 * announces a Maximum Packet Size matched to `message_size_limit` (protocol/mqtt.ts). A receiver that pauses
 * under back-pressure leaves messages queued here: `max_queued_messages` is how many per session the broker
 * keeps before it drops (a backlog after a long outage of every receiver must fit).
 */
export const BROKER_LIMITS: readonly string[] = [
  '# chunk messages are <= 64 KiB + topic + 24-byte prefix; every client announces a maximum packet size matched to this',
  `message_size_limit ${BROKER_MESSAGE_SIZE_LIMIT}`,
  'max_queued_messages 100000',
];

/**
 * Mosquitto applies a listener option to the listener declared before it; one written before any
 * `listener` line opens a default plain-text listener on 1883. So the only listener is the TLS one, and
 * its options (the client-id rule included) follow it.
 */
export function brokerConfText(o: BrokerKitOptions & { passwd: string; acl: string }): string {
  return [
    '# Hindsight broker settings (include from mosquitto.conf). Generated by `hindsight force broker-config`.',
    '# Global settings first; every listener option below its one listener (TLS only, no plain-text port).',
    'per_listener_settings false',
    'allow_anonymous false',
    `password_file ${o.passwd}`,
    `acl_file ${o.acl}`,
    'persistence true',
    '# without these, kill -9 of the broker loses sessions and queued QoS 1 messages',
    'autosave_interval 1',
    'autosave_on_changes true',
    ...BROKER_LIMITS,
    o.bind ? `listener ${o.port ?? 8883} ${o.bind}` : `listener ${o.port ?? 8883}`,
    '# the username is the client id: a box cannot take over another box\'s session',
    'use_username_as_clientid true',
    `certfile ${o.certfile ?? '/etc/mosquitto/certs/server.crt'}`,
    `keyfile ${o.keyfile ?? '/etc/mosquitto/certs/server.key'}`,
    `cafile ${o.cafile ?? '/etc/mosquitto/certs/ca.pem'}`,
    'tls_version tlsv1.2',
    '',
  ].join('\n');
}

/** The kit's ACL (DIR/broker/acl), generated from the protocol with `forceUsers` as the receivers; returns its path. */
export function writeBrokerAcl(dir: string, prefix: string, forceUsers: string[]): string {
  for (const u of forceUsers) assertServiceUser(u);
  const p = forcePaths(dir);
  // Explicit modes, whatever the umask: the broker's group may read the kit, nobody else.
  ensurePrivateDir(p.brokerDir, 0o750);
  const acl = path.join(p.brokerDir, 'acl');
  writeFileAtomic(acl, mosquittoAcl(prefix, forceUsers), 0o640);
  return acl;
}

export function writeBrokerKit(dir: string, o: BrokerKitOptions): BrokerKit {
  const p = forcePaths(dir);
  const acl = writeBrokerAcl(dir, o.prefix, o.forceUsers);
  const conf = path.join(p.brokerDir, 'hindsight.conf');
  writeFileAtomic(conf, brokerConfText({ ...o, passwd: p.brokerPasswd, acl }), 0o640);
  if (!existsSync(p.brokerPasswd)) writeSecretFile(p.brokerPasswd, '');
  return { acl, passwd: p.brokerPasswd, conf };
}

export interface ReceiverIdentity {
  username: string;
  passwordFile: string;
  /** The environment that points `hindsight-force receive` (with the installation's force.yaml) at this identity. */
  envFile: string;
  /** True when its password was made now (false: an existing one was kept). */
  created: boolean;
}

/**
 * Broker identities of receivers 2..`count` (receiver 1 is keygen's `svc.force`): the broker takes the
 * username as the client id, so two receivers under one user would keep taking each other's session.
 * Each gets `svc.force-<n>`, a password (0600, kept when it exists, so running this again changes no
 * password), its line in broker/passwd and an environment file: every receiver reads the same force.yaml
 * and database, only its broker login differs.
 */
export function writeReceiverIdentities(dir: string, count: number): ReceiverIdentity[] {
  if (!Number.isInteger(count) || count < 1 || count > MAX_RECEIVERS) {
    throw new HindsightError(`cannot make broker identities for ${count} receivers`, { code: 'bad_receivers', hint: `give a whole number of receivers from 1 to ${MAX_RECEIVERS}` });
  }
  const passwd = forcePaths(dir).brokerPasswd;
  const out: ReceiverIdentity[] = [];
  for (let n = 2; n <= count; n++) {
    const username = receiverUser(n);
    const { passwordFile, envFile } = receiverIdentityPaths(dir, n);
    const created = !existsSync(passwordFile);
    if (created) writeSecretFile(passwordFile, randomBytes(24).toString('base64url') + '\n');
    const password = readFileSync(passwordFile, 'utf8').trim();
    upsertPasswdLine(passwd, mosquittoPasswordLine(username, password), 'service');
    const env = [
      `# Broker identity of force receiver ${n}, written by \`hindsight-force broker-config --receivers\`.`,
      '# Run `hindsight-force receive` with the installation\'s force.yaml and these variables (systemd: EnvironmentFile=).',
      `HSFORCE_MQTT__USERNAME=${username}`,
      `HSFORCE_MQTT__PASSWORD_FILE=${passwordFile}`,
      `HSFORCE_FORCE__CLIENT_ID=force-receiver-${n}`,
      '',
    ];
    writeSecretFile(envFile, env.join('\n'));
    out.push({ username, passwordFile, envFile, created });
  }
  return out;
}
