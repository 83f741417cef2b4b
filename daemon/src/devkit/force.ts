import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { AuditLog } from '../audit/log.js';
import { loadConfigFile } from '../config/load.js';
import { daemonPaths } from '../config/paths.js';
import { BROKER_LIMITS, FORCE_SERVICE_USER, mosquittoPasswordLine, receiverUsers, upsertPasswdLine, writeBrokerKit, writeReceiverIdentities, type ReceiverIdentity } from '../force/broker-kit.js';
import { openForceDb } from '../force/database.js';
import { enrollDevice } from '../force/enroll.js';
import { forceKeygen } from '../force/keys.js';
import { forcePaths } from '../force/paths.js';
import { DeviceRegistry } from '../force/registry.js';
import { openDatabase } from '../db/db.js';
import { installBundle, readBundle } from '../uplink/enrollment.js';
import { systemClock } from '../util/clock.js';
import { TestBroker } from './broker.js';

/**
 * A force installation and its broker on this machine (demo, tests, benchmarks): force keys, the broker
 * kit generated from the protocol (ACL + password file) loaded into a private TLS Mosquitto, and
 * enrollment bundles for the given boxes. The broker checks the real generated ACL.
 */
export interface ForceKit {
  broker: TestBroker;
  forceDir: string;
  forceConfig: string;
  prefix: string;
  bundle(deviceId: string): string;
  /** Enroll one more box (updates the broker's password file and reloads it). */
  enroll(deviceId: string, store: string): string;
  /** Broker identities of receivers 2..n (`receivers` option), as `broker-config --receivers` writes them. */
  receivers: ReceiverIdentity[];
}

export interface ForceKitOptions {
  devices?: { id: string; store: string }[];
  prefix?: string;
  caps?: Record<string, number>;
  /** Extra force-side broker users (same rights as the force service), e.g. an observer in tests. */
  forceUsers?: { username: string; password: string }[];
  /** How many receivers share the intake, each with its own broker identity (default 1). */
  receivers?: number;
}

export async function startForceKit(dir: string, options: ForceKitOptions = {}): Promise<ForceKit> {
  const prefix = options.prefix ?? 'hindsight/v1';
  const forceDir = path.join(dir, 'force');
  // An existing installation is kept (the demo restarts on the same state).
  // Keys valid a year, as `hindsight-force keygen` makes them: a shorter set would raise the box's
  // "force key set expiring" alarm (30 days ahead) from the first minute.
  if (!existsSync(forcePaths(forceDir).rootKey)) forceKeygen(forceDir, { now: systemClock.now(), validityDays: 365, prefix });
  const extra = options.forceUsers ?? [];
  const kit = writeBrokerKit(forceDir, { prefix, forceUsers: [...receiverUsers(options.receivers ?? 1), ...extra.map((u) => u.username)] });
  const receivers = writeReceiverIdentities(forceDir, options.receivers ?? 1);
  for (const u of extra) upsertPasswdLine(kit.passwd, mosquittoPasswordLine(u.username, u.password), 'service');
  const broker = new TestBroker({
    dir: path.join(dir, 'broker'),
    users: [],
    acl: readFileSync(kit.acl, 'utf8'),
    passwordFile: kit.passwd,
    extraConfig: ['use_username_as_clientid true', ...BROKER_LIMITS],
  });
  await broker.start();
  const forceConfig = forcePaths(forceDir).config;
  writeFileSync(
    forceConfig,
    stringify({
      force: { dir: '.', prefix },
      mqtt: { url: broker.url, ca_file: broker.ca, username: FORCE_SERVICE_USER, password_file: forcePaths(forceDir).mqttPassword },
      // `revoke` reloads this broker, never the machine's own Mosquitto (the default pid file's)
      broker: { pid_file: broker.pidFile },
      caps: { missing_after_s: 2, ...(options.caps ?? {}) },
      log: { level: 'info', pretty: false },
    }),
  );
  const bundles = new Map<string, string>();
  const enroll = (deviceId: string, store: string): string => {
    const fdb = openForceDb(forceDir);
    try {
      const r = enrollDevice({ dir: forceDir, deviceId, store, brokerUrl: broker.url, caPem: readFileSync(broker.ca, 'utf8'), prefix, now: systemClock.now(), db: fdb.db, audit: fdb.audit });
      bundles.set(deviceId, r.file);
      broker.reload();
      return r.file;
    } finally {
      fdb.close();
    }
  };
  for (const d of options.devices ?? []) enroll(d.id, d.store);
  return {
    broker,
    forceDir,
    forceConfig,
    prefix,
    enroll,
    receivers,
    bundle: (id) => {
      const f = bundles.get(id);
      if (!f) throw new Error(`device ${id} is not enrolled in this kit`);
      return f;
    },
  };
}

/** The variables of a receiver's environment file (KEY=VALUE lines; `#` comments), to start `receive` with. */
export function readEnvFile(file: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (line.startsWith('#') || eq < 1) continue;
    env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

/** Install a bundle on a box (by its config file) and register its key with the force, as the two CLIs do. */
export function enrollBox(configFile: string, bundleFile: string, forceDir: string): { deviceId: string; kid: string } {
  const config = loadConfigFile(configFile, {});
  const paths = daemonPaths(config);
  mkdirSync(paths.stateDir, { recursive: true });
  const db = openDatabase(paths.database);
  try {
    const r = installBundle(readBundle(bundleFile), { stateDir: paths.stateDir, deviceId: config.device.id, db, audit: new AuditLog(db, systemClock), clock: systemClock });
    const fdb = openForceDb(forceDir);
    try {
      new DeviceRegistry(fdb.db).register(r.deviceId, r.devicePublicKey, systemClock.now());
    } finally {
      fdb.close();
    }
    return { deviceId: r.deviceId, kid: r.deviceKid };
  } finally {
    db.close();
  }
}
