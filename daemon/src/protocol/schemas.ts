import { Type, type Static, type TSchema, type TString } from '@sinclair/typebox';
import { Ajv, type ValidateFunction } from 'ajv';
import { HindsightError } from '../util/errors.js';
import { illFormedTextPath } from '../util/text.js';
import { DesiredDocSchema } from './force-config.js';

/**
 * The MQTT contract's payloads, written once as JSON Schemas (TypeBox) and used by the device and the
 * force side alike. Every object is closed (additionalProperties: false) with length limits: a message
 * that does not match is refused whole, with the schema's reason.
 */

const Id = Type.String({ pattern: '^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$' });
const Kid = Type.String({ pattern: '^[0-9a-f]{16}$' });
const B64 = (max: number): TString => Type.String({ pattern: '^[A-Za-z0-9_-]*$', maxLength: max });
const Hex64 = Type.String({ pattern: '^[0-9a-f]{64}$' });
const EnvelopeId = Type.String({ pattern: '^[0-9a-f]{32}$' });
const Ms = Type.Integer({ minimum: 0, maximum: 8_640_000_000_000_000 });
const closed = { additionalProperties: false } as const;

export const StatePayload = Type.Object(
  { state: Type.Union([Type.Literal('online'), Type.Literal('offline')]), version: Type.String({ maxLength: 64 }), boot_id: Type.String({ maxLength: 64 }), bd_seq: Type.Integer({ minimum: 0 }) },
  closed,
);

export const EnvelopeHeaderSchema = Type.Object(
  {
    v: Type.Literal(1),
    schema: Type.Literal('hindsight-evidence/1'),
    suite: Type.String({ maxLength: 80 }),
    device_id: Id,
    signer_kid: Kid,
    incident_id: Id,
    envelope_id: EnvelopeId,
    msg_seq: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    created_at: Ms,
    clock: Type.Object({ synced: Type.Boolean(), offset_ms: Type.Union([Type.Number(), Type.Null()]) }, closed),
    pt_len: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    chunk: Type.Integer({ minimum: 17, maximum: 65536 }),
    recipients: Type.Array(Kid, { minItems: 1, maxItems: 8 }),
  },
  closed,
);

export const EnvelopeManifestSchema = Type.Object(
  {
    header: EnvelopeHeaderSchema,
    recipients: Type.Array(Type.Object({ kid: Kid, enc: B64(64), wrapped: B64(128) }, closed), { minItems: 1, maxItems: 8 }),
    sig: B64(128),
    n_chunks: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
    body_sha256: Hex64,
  },
  closed,
);

const FileName = Type.String({ pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$' });
const MAX_PACKAGE_ITEMS = 10_000;

/**
 * The signed manifest inside an evidence package (evidence/package.ts), closed like every payload: the force
 * checks it whole before it writes or records anything of the package.
 */
export const SignedPackageManifestSchema = Type.Object(
  {
    manifest: Type.Object(
      {
        v: Type.Literal(1),
        schema: Type.Literal('hindsight-package/1'),
        incident_id: Id,
        device_id: Id,
        store: Type.String({ maxLength: 200 }),
        created_at: Ms,
        clock: Type.Object({ synced: Type.Boolean(), offset_ms: Type.Union([Type.Number(), Type.Null()]), source: Type.String({ maxLength: 32 }) }, closed),
        window: Type.Object({ start: Ms, end: Ms }, closed),
        cameras: Type.Array(
          Type.Object({ id: Id, coverage: Type.Union([Type.Number({ minimum: 0 }), Type.Null()]), gaps: Type.Array(Type.Object({ start: Ms, end: Ms }, closed), { maxItems: MAX_PACKAGE_ITEMS }) }, closed),
          { maxItems: 256 },
        ),
        clips: Type.Array(Type.Object({ camera: Id, sha256: Hex64, bytes: Type.Integer({ minimum: 0 }), name: FileName }, closed), { maxItems: MAX_PACKAGE_ITEMS }),
        files: Type.Array(
          Type.Object(
            {
              name: FileName,
              kind: Type.Union([Type.Literal('crop'), Type.Literal('context'), Type.Literal('embeddings'), Type.Literal('document')]),
              media_type: Type.String({ pattern: '^[a-z]+/[A-Za-z0-9.+_-]{1,100}$' }),
              sha256: Hex64,
              bytes: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
            },
            closed,
          ),
          { maxItems: MAX_PACKAGE_ITEMS },
        ),
        subjects: Type.Array(
          Type.Object(
            {
              id: Id,
              cameras: Type.Array(Id, { maxItems: 256 }),
              crops: Type.Array(FileName, { maxItems: MAX_PACKAGE_ITEMS }),
              embedding_row: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_PACKAGE_ITEMS })),
              first_seen: Type.Optional(Ms),
              last_seen: Type.Optional(Ms),
            },
            closed,
          ),
          { maxItems: MAX_PACKAGE_ITEMS },
        ),
        embeddings: Type.Union([
          Type.Object({ file: FileName, dim: Type.Integer({ minimum: 1, maximum: 65536 }), dtype: Type.Literal('float32le'), model: Type.String({ maxLength: 200 }) }, closed),
          Type.Null(),
        ]),
        models: Type.Array(Type.Object({ name: Type.String({ maxLength: 200 }), sha256: Hex64 }, closed), { maxItems: 64 }),
        tools: Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 1000 }), { maxProperties: 64 }),
      },
      closed,
    ),
    signer_kid: Kid,
    sig: B64(128),
  },
  closed,
);

/**
 * An incident's master clip sent on the force's `upload_masters` (one clip per envelope): its manifest,
 * signed by the device, names the clip and its SHA-256, which the force checks against the clip hashes of
 * the incident's evidence manifest.
 */
export const MastersManifestSchema = Type.Object(
  {
    v: Type.Literal(1),
    schema: Type.Literal('hindsight-masters/1'),
    incident_id: Id,
    device_id: Id,
    created_at: Ms,
    camera: Id,
    name: Type.String({ pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$' }),
    sha256: Hex64,
    bytes: Type.Integer({ minimum: 0 }),
    media_type: Type.String({ maxLength: 100 }),
  },
  closed,
);

export const SignedMastersManifestSchema = Type.Object({ manifest: MastersManifestSchema, signer_kid: Kid, sig: B64(128) }, closed);

/** Most audit rows one deletion report carries (the next report takes the rest). */
export const MAX_DELETION_ROWS = 1000;

/**
 * The box's deletion receipts for the force: the audit rows of its deletions (footage by retention,
 * master clips at the end of their retention or of a cancelled incident, plaintext working files after
 * delivery), as its audit log holds them, with each row's hash; signed by the device, sealed like evidence.
 */
export const DeletionsManifestSchema = Type.Object(
  {
    v: Type.Literal(1),
    schema: Type.Literal('hindsight-deletions/1'),
    device_id: Id,
    created_at: Ms,
    rows: Type.Array(
      Type.Object(
        {
          seq: Type.Integer({ minimum: 1 }),
          id: Type.String({ maxLength: 64 }),
          ts_utc: Ms,
          action: Type.String({ maxLength: 64 }),
          object_ids: Type.Array(Type.String({ maxLength: 200 }), { maxItems: 1000 }),
          sha256s: Type.Array(Hex64, { maxItems: 10_000 }),
          detail: Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), { maxProperties: 64 }),
          hash: Hex64,
        },
        closed,
      ),
      { minItems: 1, maxItems: MAX_DELETION_ROWS },
    ),
  },
  closed,
);

export const SignedDeletionsManifestSchema = Type.Object({ manifest: DeletionsManifestSchema, signer_kid: Kid, sig: B64(128) }, closed);

export const ReceiptBody = Type.Object(
  {
    v: Type.Literal(1),
    envelope: EnvelopeId,
    device_id: Id,
    body_sha256: Type.Union([Hex64, Type.Literal('')]),
    /**
     * `complete`: stored and verified. `missing`: send these chunks again. `rejected`: refused for good
     * (`reason`): the box stops sending the envelope and tells a person why.
     */
    status: Type.Union([Type.Literal('complete'), Type.Literal('missing'), Type.Literal('rejected')]),
    missing: Type.Array(Type.Integer({ minimum: 0 }), { maxItems: 100_000 }),
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
    ts: Ms,
    kid: Kid,
  },
  closed,
);

export const ReceiptPayload = Type.Object({ receipt: ReceiptBody, sig: B64(128) }, closed);

/** Content digests one audit head may carry (the box sends the rest in the next heads). */
export const MAX_AUDIT_DIGESTS = 2000;

/** The force's acknowledgement of an audit head it checked (on the box's `receipt` topic), signed by a receipt key. */
export const AuditAckPayload = Type.Object(
  { ack: Type.Object({ v: Type.Literal(1), kind: Type.Literal('audit_head'), device_id: Id, count: Type.Integer({ minimum: 0 }), head_hash: Hex64, ts: Ms, kid: Kid }, closed), sig: B64(128) },
  closed,
);

/**
 * The signed head of the box's audit chain. `from` is the head the force last acknowledged and `digests`
 * the content digests of the rows after it up to `count`, in order: the force chains them from `from` and
 * must arrive at `head_hash` (audit/log.ts linkHash). Without `from` it is a first head (a baseline).
 */
export const AuditHeadPayload = Type.Object(
  {
    head: Type.Object(
      {
        count: Type.Integer({ minimum: 0 }),
        head_hash: Hex64,
        ts: Ms,
        from: Type.Optional(Type.Object({ count: Type.Integer({ minimum: 0 }), head_hash: Hex64 }, closed)),
        digests: Type.Optional(Type.Array(Hex64, { maxItems: MAX_AUDIT_DIGESTS })),
        /** The force's own signed acknowledgement of `from` (lets a force restored from a backup, or one
         * seeing a restored box, check the chain from a head it acknowledged before). */
        from_ack: Type.Optional(AuditAckPayload),
        /** Set once the box was restored from a backup: its epoch (backup/epoch.ts) and the backup's row count. */
        epoch: Type.Optional(Type.Object({ n: Type.Integer({ minimum: 1 }), id: Type.String({ minLength: 1, maxLength: 64 }), base_count: Type.Integer({ minimum: 0 }) }, closed)),
      },
      closed,
    ),
    kid: Kid,
    sig: B64(128),
  },
  closed,
);

/** The most alarms a health document lists (the box keeps the rest; `incidents.failed` still counts them all). */
export const MAX_HEALTH_ALARMS = 100;

/**
 * One alarm of the health document: raised by a service and kept in the box's `alarms` table, or computed
 * when the document is built (then with `message`, words the force's admin can act on; no personal data).
 */
export const HealthAlarm = Type.Object(
  { kind: Type.String({ maxLength: 64 }), subject: Type.String({ maxLength: 128 }), since: Ms, message: Type.Optional(Type.String({ maxLength: 500 })) },
  closed,
);

export const HealthPayload = Type.Object(
  {
    ts: Ms,
    uptime_s: Type.Number({ minimum: 0 }),
    version: Type.String({ maxLength: 64 }),
    clock: Type.Object({ synced: Type.Boolean(), offset_ms: Type.Union([Type.Number(), Type.Null()]), source: Type.String({ maxLength: 32 }) }, closed),
    outbox: Type.Object({ pending: Type.Integer({ minimum: 0 }), bytes: Type.Integer({ minimum: 0 }), oldest_age_s: Type.Union([Type.Number(), Type.Null()]) }, closed),
    alarms: Type.Optional(Type.Array(HealthAlarm, { maxItems: MAX_HEALTH_ALARMS })),
  },
  // Other services (cpu, disk, cameras, incidents, models) add their own keys to the health document.
  { additionalProperties: true },
);

export const CommandBody = Type.Object(
  {
    v: Type.Literal(1),
    cmd_id: Id,
    device_id: Id,
    issuer_kid: Kid,
    op: Type.String({ maxLength: 40, pattern: '^[a-z_]+$' }),
    args: Type.Record(Type.String({ maxLength: 64 }), Type.Unknown()),
    seq: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    iat: Ms,
    exp: Ms,
  },
  closed,
);

export const CommandPayload = Type.Object({ kid: Kid, cmd: CommandBody, sig: B64(128) }, closed);

export const CommandResultPayload = Type.Object(
  { cmd_id: Id, status: Type.Union([Type.Literal('ok'), Type.Literal('error')]), error: Type.Optional(Type.String({ maxLength: 2000 })), data: Type.Optional(Type.Unknown()) },
  closed,
);

/** `sig = Ed25519(command_sk, "hindsight-config-v1\0" || canonical(doc))` by a command-admin key of the key set. */
export const DesiredConfigPayload = Type.Object({ doc: DesiredDocSchema, kid: Kid, sig: B64(128) }, closed);

export const ReportedConfigPayload = Type.Object(
  {
    applied_version: Type.Integer({ minimum: 0 }),
    sha256: Hex64,
    restart_required: Type.Boolean(),
    /** The version refused (with `errors`), when the latest document was refused. */
    rejected_version: Type.Optional(Type.Integer({ minimum: 0 })),
    errors: Type.Optional(Type.Array(Type.String({ maxLength: 500 }), { maxItems: 100 })),
  },
  closed,
);

// The TypeScript types of the payloads are the schemas' static types: written once, they cannot drift.
export type StateMessage = Static<typeof StatePayload>;
export type EnvelopeHeader = Static<typeof EnvelopeHeaderSchema>;
export type EnvelopeManifest = Static<typeof EnvelopeManifestSchema>;
export type RecipientEntry = EnvelopeManifest['recipients'][number];
export type SignedPackageManifest = Static<typeof SignedPackageManifestSchema>;
export type PackageManifest = SignedPackageManifest['manifest'];
export type ReceiptMessage = Static<typeof ReceiptPayload>;
export type ReceiptBodyT = Static<typeof ReceiptBody>;
export type MastersManifest = Static<typeof MastersManifestSchema>;
export type DeletionsManifest = Static<typeof DeletionsManifestSchema>;
export type SignedDeletionsManifest = Static<typeof SignedDeletionsManifestSchema>;
export type SignedMastersManifest = Static<typeof SignedMastersManifestSchema>;
export type SignedAuditHead = Static<typeof AuditHeadPayload>;
export type AuditAckMessage = Static<typeof AuditAckPayload>;
export type HealthMessage = Static<typeof HealthPayload>;
export type HealthAlarmItem = Static<typeof HealthAlarm>;
export type CommandMessage = Static<typeof CommandPayload>;
export type CommandResultMessage = Static<typeof CommandResultPayload>;
export type DesiredConfigMessage = Static<typeof DesiredConfigPayload>;
export type ReportedConfigMessage = Static<typeof ReportedConfigPayload>;

const ajv = new Ajv({ allErrors: false, strict: true, coerceTypes: false, removeAdditional: false, useDefaults: false });
const cache = new WeakMap<TSchema, ValidateFunction>();

export class PayloadError extends HindsightError {
  constructor(message: string) {
    super(message, { code: 'bad_payload' });
  }
}

/** Parse a JSON payload and check it against its schema; throws PayloadError naming the first problem. */
export function parsePayload<T extends TSchema>(schema: T, payload: Buffer | string, maxBytes = 256 * 1024): Static<T> {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  if (size > maxBytes) throw new PayloadError(`payload of ${size} bytes exceeds ${maxBytes}`);
  let value: unknown;
  try {
    value = JSON.parse(payload.toString());
  } catch {
    throw new PayloadError('payload is not JSON');
  }
  return checkPayload(schema, value);
}

export function checkPayload<T extends TSchema>(schema: T, value: unknown): Static<T> {
  let validate = cache.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    cache.set(schema, validate);
  }
  const illFormed = illFormedTextPath(value);
  if (illFormed !== undefined) throw new PayloadError(`payload does not match the schema: ${illFormed} is not valid Unicode text (a lone UTF-16 surrogate)`);
  if (!validate(value)) {
    const e = validate.errors?.[0];
    throw new PayloadError(`payload does not match the schema: ${e ? `${e.instancePath || '/'} ${e.message ?? e.keyword}` : 'invalid'}`);
  }
  return value as Static<T>;
}
