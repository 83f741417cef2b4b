import type { AuditLog } from '../audit/log.js';
import { trustedSigner, type KeySetBody, type SignedKeySet, type SignerKey, type SignerRole } from '../crypto/keyset.js';
import { SIG_CONTEXT, verifyWith } from '../crypto/keys.js';
import { checkPayload, PayloadError } from '../protocol/schemas.js';
import { COMMAND_OPS, OPERATOR_OPS, type CommandOp } from '../protocol/commands.js';
import type { DeviceTopics } from '../protocol/topics.js';
import { Type, type Static } from '@sinclair/typebox';
import type { Db } from '../db/db.js';
import { CommandSeqRepo } from '../db/repos/command-seq.js';
import { CommandsSeenRepo } from '../db/repos/commands-seen.js';
import { canonicalBytes } from '../util/canonical.js';
import type { Clock } from '../util/clock.js';
import { HindsightError } from '../util/errors.js';
import { clipText, toWellFormedText } from '../util/text.js';

/**
 * Verification of signed commands from the force (PROTOCOL.md "Signed commands"), in the protocol's
 * order; the first failure rejects, is audited and is what the error reply says. The effect of an
 * accepted command runs in the same transaction as the seq bump, the cmd_id record and its audit row.
 * The ops themselves belong to the fleet service; there is no op that enables matching or live
 * recognition, and an unknown op is refused like a forbidden one.
 */

const ROLE_OPS: Partial<Record<SignerRole, ReadonlySet<string>>> = {
  'command-admin': new Set(COMMAND_OPS),
  'command-operator': new Set(OPERATOR_OPS),
};

export { COMMAND_OPS, type CommandOp };

export const MAX_COMMAND_BYTES = 16 * 1024;
const MAX_FUTURE_IAT_MS = 30_000;
const MAX_LIFETIME_MS = 300_000;

// The version is checked after the signature (protocol order), so the schema accepts any integer here.
const Kid = Type.String({ pattern: '^[0-9a-f]{16}$' });
const CommandSchema = Type.Object(
  {
    kid: Kid,
    cmd: Type.Object(
      {
        v: Type.Integer(),
        cmd_id: Type.String({ pattern: '^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$' }),
        device_id: Type.String({ pattern: '^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$' }),
        issuer_kid: Kid,
        op: Type.String({ maxLength: 40, pattern: '^[a-z_]+$' }),
        args: Type.Record(Type.String({ maxLength: 64 }), Type.Unknown()),
        seq: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
        iat: Type.Integer({ minimum: 0 }),
        exp: Type.Integer({ minimum: 0 }),
      },
      { additionalProperties: false },
    ),
    sig: Type.String({ pattern: '^[A-Za-z0-9_-]*$', maxLength: 128 }),
  },
  { additionalProperties: false },
);

export type SignedCommand = Static<typeof CommandSchema>;

export type CommandRejection =
  | 'oversize'
  | 'schema'
  | 'unknown_kid'
  | 'revoked_kid'
  | 'bad_signature'
  | 'version'
  | 'wrong_device'
  | 'future_iat'
  | 'expired'
  | 'lifetime'
  | 'forbidden_op'
  | 'old_seq'
  | 'replay'
  | 'duplicate_cmd_id'
  | 'bad_response_topic'
  | 'bad_args'
  | 'failed';

export class CommandRejected extends HindsightError {
  constructor(
    readonly reason: CommandRejection,
    message: string,
    readonly cmdId?: string,
  ) {
    super(message, { code: `command_${reason}` });
  }
}

export interface VerifiedCommand {
  cmd: SignedCommand['cmd'];
  issuer: SignerKey;
  responseTopic: string | undefined;
}

export class CommandVerifier {
  private readonly seqs: CommandSeqRepo;
  private readonly seen: CommandsSeenRepo;

  constructor(
    private readonly db: Db,
    private readonly audit: AuditLog,
    private readonly keyset: () => SignedKeySet | undefined,
    private readonly topics: DeviceTopics,
    private readonly clock: Clock,
  ) {
    this.seqs = new CommandSeqRepo(db);
    this.seen = new CommandsSeenRepo(db);
  }

  /** Stateless checks: size, schema, kid, signature, version, device, times, op for the role. */
  verify(payload: Buffer, responseTopic?: string): VerifiedCommand {
    if (payload.length > MAX_COMMAND_BYTES) throw new CommandRejected('oversize', `command of ${payload.length} bytes exceeds ${MAX_COMMAND_BYTES}`);
    let env: SignedCommand;
    try {
      env = checkPayload(CommandSchema, JSON.parse(payload.toString('utf8')));
    } catch (err) {
      throw new CommandRejected('schema', err instanceof PayloadError ? err.message : 'command is not JSON');
    }
    const { cmd } = env;
    const body: KeySetBody | undefined = this.keyset()?.keyset;
    const now = this.clock.now();
    if (body?.revoked?.includes(env.kid)) throw new CommandRejected('revoked_kid', `issuer key ${env.kid} is revoked`, cmd.cmd_id);
    const issuer = body && env.kid === cmd.issuer_kid ? (trustedSigner(body, env.kid, 'command-admin', now) ?? trustedSigner(body, env.kid, 'command-operator', now)) : undefined;
    if (!issuer) throw new CommandRejected('unknown_kid', `issuer key ${env.kid} is not a command key of the installed force key set`, cmd.cmd_id);
    if (!verifyWith(issuer.pk, SIG_CONTEXT.command, env.sig, canonicalBytes(cmd))) throw new CommandRejected('bad_signature', 'the command signature does not verify', cmd.cmd_id);
    if (cmd.v !== 1) throw new CommandRejected('version', `command version ${cmd.v} is not supported`, cmd.cmd_id);
    if (cmd.device_id !== this.topics.device) throw new CommandRejected('wrong_device', `command is for device ${cmd.device_id}`, cmd.cmd_id);
    if (cmd.iat > now + MAX_FUTURE_IAT_MS) throw new CommandRejected('future_iat', 'command is issued in the future', cmd.cmd_id);
    if (cmd.exp <= now) throw new CommandRejected('expired', 'command has expired', cmd.cmd_id);
    if (cmd.exp - cmd.iat > MAX_LIFETIME_MS) throw new CommandRejected('lifetime', `command lifetime exceeds ${MAX_LIFETIME_MS / 1000} s`, cmd.cmd_id);
    if (!ROLE_OPS[issuer.role]?.has(cmd.op)) throw new CommandRejected('forbidden_op', `op ${cmd.op} is not allowed for a ${issuer.role} key`, cmd.cmd_id);
    return { cmd, issuer, responseTopic };
  }

  /**
   * Replay checks and the effect, in one transaction with the seq, the cmd_id and the audit row; a
   * failure leaves nothing behind. Throws CommandRejected for old seq, replay, duplicate cmd_id or a
   * response topic other than this device's `cmd/res` (replies go nowhere else), and whatever
   * CommandRejected the effect throws (bad arguments, an effect that cannot be done).
   */
  execute<T>(v: VerifiedCommand, effect: () => T): T {
    return this.db
      .transaction((): T => {
        const last = this.seqs.last(v.issuer.kid);
        const seen = this.seen.has(v.cmd.cmd_id);
        if (v.cmd.seq <= last) throw new CommandRejected(seen ? 'replay' : 'old_seq', `seq ${v.cmd.seq} is not above ${last}`, v.cmd.cmd_id);
        if (seen) throw new CommandRejected('duplicate_cmd_id', `cmd_id ${v.cmd.cmd_id} was already used`, v.cmd.cmd_id);
        if (v.responseTopic !== this.topics.cmdResult()) {
          throw new CommandRejected('bad_response_topic', `the response topic must be ${this.topics.cmdResult()}`, v.cmd.cmd_id);
        }
        this.seqs.set(v.issuer.kid, v.cmd.seq);
        this.seen.insert(v.cmd.cmd_id, this.clock.now());
        this.audit.append({ actor: { type: 'force', id: v.issuer.kid, role: v.issuer.role }, action: 'command.accepted', objectIds: [v.cmd.cmd_id], detail: { op: v.cmd.op, seq: v.cmd.seq } });
        return effect();
      })
      .immediate();
  }

  /** Audit a rejection (its own transaction; the rejected command changed nothing). */
  auditRejection(err: CommandRejected, kid?: string): void {
    this.audit.append({ actor: { type: 'force', id: kid ?? 'unknown' }, action: 'command.rejected', objectIds: err.cmdId ? [err.cmdId] : [], result: 'denied', detail: { reason: err.reason, message: err.message } });
  }

  /** verify + execute + audit on failure, for the fleet service's message handler. */
  handle<T>(payload: Buffer, responseTopic: string | undefined, effect: (v: VerifiedCommand) => T): { ok: true; value: T } | { ok: false; error: CommandRejected } {
    let kid: string | undefined;
    try {
      kid = (JSON.parse(payload.toString('utf8')) as { kid?: string }).kid;
    } catch {
      /* reported by verify */
    }
    try {
      const v = this.verify(payload, responseTopic);
      return { ok: true, value: this.execute(v, () => effect(v)) };
    } catch (err) {
      if (!(err instanceof CommandRejected)) throw err;
      this.auditRejection(err, typeof kid === 'string' ? toWellFormedText(clipText(kid, 16)) : undefined);
      return { ok: false, error: err };
    }
  }
}
