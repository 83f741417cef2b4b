import { Type } from '@sinclair/typebox';
import { MQTTS_URL_HINT, MQTTS_URL_OR_EMPTY_PATTERN } from '../../protocol/broker-url.js';
import { integer, pathString, secret, section } from '../schema-helpers.js';

/**
 * The MQTT uplink to the force. Connection details normally come from the enrollment bundle installed
 * by `hindsight enroll BUNDLE` (kept in <state_dir>/uplink/); the keys here override them.
 */
export const UplinkSection = section('MQTT uplink to the force (sealed evidence, receipts). Empty connection keys are taken from the enrollment.', {
  enabled: Type.Boolean({ description: 'Run the uplink when the box is enrolled. Evidence is still sealed and queued when false.', default: true }),
  broker_url: Type.String({ description: 'Broker URL (mqtts://host:port); empty means the one from the enrollment bundle.', default: '', maxLength: 1024, pattern: MQTTS_URL_OR_EMPTY_PATTERN, patternHint: MQTTS_URL_HINT }),
  ca_file: pathString('CA certificate (PEM) that signs the broker certificate; empty means the one from the enrollment bundle.', ''),
  username: Type.String({ description: 'MQTT username (also the client id); empty means the device id.', default: '', maxLength: 64 }),
  password: secret('MQTT password; empty means the one from the enrollment bundle. May be given as password_file.', { default: '' }),
  prefix: Type.String({ description: 'Topic prefix; empty means the one from the enrollment bundle (hindsight/v1).', default: '', maxLength: 100 }),
  chunk_bytes: integer('Ciphertext bytes per MQTT chunk message (at most 65536).', 65536, 1024, 65536),
  outbox_max_bytes: Type.Integer({ description: 'Undelivered evidence kept at most (bytes); beyond it new incidents are refused, never dropped.', default: 2 * 1024 ** 3, minimum: 1024 * 1024 }),
  outbox_max_age_days: Type.Number({ description: 'When the oldest undelivered envelope is older than this, new incidents are refused.', default: 30, minimum: 0.001 }),
  publish_timeout_ms: Type.Integer({ description: 'Give up on one publish (and retry later) after this long.', default: 15_000, minimum: 500 }),
  receipt_timeout_s: Type.Number({ description: 'Send an envelope again when no receipt came this long after it was sent (doubling, up to 8x).', default: 60, minimum: 0.5 }),
  retry_min_ms: Type.Integer({ description: 'First retry delay after a failed send (doubles with jitter).', default: 1000, minimum: 50 }),
  retry_max_ms: Type.Integer({ description: 'Longest retry delay after failed sends.', default: 300_000, minimum: 100 }),
  inflight: integer('Chunk publishes awaiting PUBACK at once.', 16, 1, 256),
  keepalive_s: integer('MQTT keepalive.', 30, 5, 3600),
  health_interval_s: integer("How often the box's health document goes to the force (retained; also at every connect).", 60, 5, 3600),
  audit_head_interval_s: integer("How often the signed head of the box's audit log goes to the force (retained; also at every connect and at a clean stop), with the digests of the rows since the head the force acknowledged.", 900, 5, 86_400),
  audit_keep_days: integer('Audit rows older than this that the force has acknowledged are deleted behind a kept anchor (the chain still verifies from it). 0 = keep every row.', 400, 0, 36_500),
  session_expiry_s: Type.Integer({ description: 'Persistent session kept by the broker while the box is offline (receipts queue there).', default: 7 * 86_400, minimum: 86_400 }),
  reconnect_ms: Type.Integer({ description: 'Delay between reconnection attempts.', default: 2000, minimum: 100 }),
});
