import { createLogger } from '../log/logger.js';
import type { ForceConfig } from './config.js';
import { ForceReceiver } from './receiver.js';

/**
 * The force receiver as a running service (`hindsight-force receive`): its logger, the receiver started on
 * the broker, then, on SIGINT or SIGTERM, an orderly stop (the message in hand finished, the database closed).
 */
export async function runReceiver(config: ForceConfig): Promise<void> {
  const log = createLogger({ level: config.log.level, pretty: config.log.pretty });
  const receiver = new ForceReceiver(config, log);
  const metricsAt = await receiver.start();
  log.info({ dir: config.force.dir, broker: config.mqtt.url, ...(metricsAt ? { metrics: `http://${metricsAt}/metrics` } : {}) }, 'force receiver running');
  await untilStopSignal();
  await receiver.stop();
  log.info('force receiver stopped');
}

function untilStopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve());
  });
}
