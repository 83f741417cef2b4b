import { readFileSync } from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import { AuditLog } from '../../daemon/src/audit/log.js';
import type { AppContext } from '../../daemon/src/kernel/context.js';
import { EventBus } from '../../daemon/src/kernel/events.js';
import { loadConfigFile } from '../../daemon/src/config/load.js';
import { daemonPaths } from '../../daemon/src/config/paths.js';
import { createLogger } from '../../daemon/src/log/logger.js';
import { openDatabase } from '../../daemon/src/db/db.js';
import { UplinkService } from '../../daemon/src/uplink/service.js';
import type { SenderSettings } from '../../daemon/src/uplink/sender.js';
import { systemClock } from '../../daemon/src/util/clock.js';
import { ClockSyncMonitor } from '../../daemon/src/util/clock-sync.js';
import { newId } from '../../daemon/src/util/ids.js';
import type { TestBroker } from '../../daemon/src/devkit/broker.js';
import { runCli } from './cli.js';

/** An uplink service inside the test process (for fault injection), on a real database and broker. */
export function inProcessUplink(configFile: string, testing: Pick<SenderSettings, 'dropChunk'> = {}): { ctx: AppContext; uplink: UplinkService; close: () => Promise<void> } {
  const config = loadConfigFile(configFile, {});
  const paths = daemonPaths(config);
  const db = openDatabase(paths.database);
  const clockSync = new ClockSyncMonitor();
  const ctx: AppContext = { config, paths, log: createLogger({ level: 'silent' }), clock: systemClock, bus: new EventBus(), db, audit: new AuditLog(db, systemClock), clockSync, bootId: newId(), version: 'test' };
  const uplink = new UplinkService(ctx, { testing });
  return {
    ctx,
    uplink,
    close: async () => {
      await uplink.stop();
      db.close();
    },
  };
}

/** Seal a package folder into the box's outbox with the CLI; returns the envelope id. */
export async function sealFolder(configFile: string, folder: string, incidentId: string): Promise<string> {
  const r = await runCli(['evidence', 'seal', '--from', folder, '--incident', incidentId, '--embedding-model', 'test-model', '--config', configFile]);
  if (r.code !== 0) throw new Error(`evidence seal failed: ${r.stderr}`);
  return /as envelope ([0-9a-f]{32})/.exec(r.stdout)![1]!;
}

export function connectAs(broker: TestBroker, username: string, password: string, extra: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(broker.url, { ca: readFileSync(broker.ca), username, password, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000, ...extra });
    client.once('connect', () => resolve(client));
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
  });
}

/** The MQTT password in a box's installed enrollment (tests act as that box). */
export function boxPassword(stateDir: string): string {
  return (JSON.parse(readFileSync(path.join(stateDir, 'uplink', 'enrollment.json'), 'utf8')) as { mqtt: { password: string } }).mqtt.password;
}
