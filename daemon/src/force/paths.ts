import path from 'node:path';

/** Where a force installation keeps its keys, key set, database, broker kit and evidence store. */
export interface ForcePaths {
  dir: string;
  config: string;
  keysDir: string;
  rootKey: string;
  receiptKey: string;
  commandKey: string;
  keyset: string;
  db: string;
  /** Copies of the database taken before a migration (`force.schema-<version>.<time>.db`). */
  backups: string;
  store: string;
  mqttPassword: string;
  brokerDir: string;
  brokerPasswd: string;
  bundlesDir: string;
}

export function forcePaths(dir: string): ForcePaths {
  const d = path.resolve(dir);
  return {
    dir: d,
    config: path.join(d, 'force.yaml'),
    keysDir: path.join(d, 'keys'),
    rootKey: path.join(d, 'keys', 'root.key'),
    receiptKey: path.join(d, 'keys', 'receipt.key'),
    commandKey: path.join(d, 'keys', 'command-admin.key'),
    keyset: path.join(d, 'keyset.json'),
    db: path.join(d, 'force.db'),
    backups: path.join(d, 'backups'),
    store: path.join(d, 'store'),
    mqttPassword: path.join(d, 'mqtt', 'force.password'),
    brokerDir: path.join(d, 'broker'),
    brokerPasswd: path.join(d, 'broker', 'passwd'),
    bundlesDir: path.join(d, 'bundles'),
  };
}

/**
 * Where the broker identity of receiver `n` (2, 3, ...) lives: its MQTT password and the environment file
 * that points a `receive` process at it. Receiver 1 is `svc.force` with `mqttPassword`, written by keygen.
 */
export function receiverIdentityPaths(dir: string, n: number): { passwordFile: string; envFile: string } {
  const mqtt = path.dirname(forcePaths(dir).mqttPassword);
  return { passwordFile: path.join(mqtt, `force-${n}.password`), envFile: path.join(mqtt, `receiver-${n}.env`) };
}
