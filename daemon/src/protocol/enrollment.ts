import { Type, type Static } from '@sinclair/typebox';
import { MQTTS_URL_PATTERN } from './broker-url.js';

/**
 * The enrollment bundle: what the force hands to one box (out of band, e.g. on a USB stick carried by
 * the installer). It holds the device's MQTT password, so it is written 0600 and deleted after install.
 * The root key in it is pinned by the box: every later key set must be signed by it.
 */
const Signed = Type.Object({ keyset: Type.Record(Type.String(), Type.Unknown()), sig: Type.String({ maxLength: 200 }) }, { additionalProperties: false });

export const EnrollmentBundleSchema = Type.Object(
  {
    v: Type.Literal(1),
    schema: Type.Literal('hindsight-enrollment/1'),
    device_id: Type.String({ pattern: '^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$' }),
    store: Type.String({ maxLength: 200 }),
    issued_at: Type.Integer({ minimum: 0 }),
    mqtt: Type.Object(
      {
        url: Type.String({ pattern: MQTTS_URL_PATTERN, maxLength: 1024 }),
        ca_pem: Type.String({ maxLength: 65536 }),
        username: Type.String({ maxLength: 64 }),
        password: Type.String({ minLength: 16, maxLength: 256 }),
        prefix: Type.String({ maxLength: 100 }),
      },
      { additionalProperties: false },
    ),
    force_root: Type.Object({ kid: Type.String({ pattern: '^[0-9a-f]{16}$' }), pk: Type.String({ maxLength: 64 }) }, { additionalProperties: false }),
    keyset: Signed,
  },
  { additionalProperties: false },
);

export type EnrollmentBundle = Static<typeof EnrollmentBundleSchema>;
