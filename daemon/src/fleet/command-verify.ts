import { randomBytes } from 'node:crypto';
import type { AuditLog } from '../audit/log.js';
import { trustedSigner, type KeySetBody, type SignedKeySet, type SignerKey, type SignerRole } from '../crypto/keyset.js';
import { SIG_CONTEXT, verifyWith } from '../crypto/keys.js';
import { checkPayload, PayloadError } from '../protocol/schemas.js';
import { COMMAND_OPS, HIGH_RISK_OPS, OPERATOR_OPS, type CommandOp } from '../protocol/commands.js';
import type { DeviceTopics } from '../protocol/topics.js';
import { Type, type Static } from '@sinclair/typebox';
import type { Db } from '../db/db.js';
import { CommandNoncesRepo } from '../db/repos/command-nonces.js';
import { commandsNotBefore } from '../audit/epoch.js';
import { CommandSeqRepo } from '../db/repos/command-seq.js';
import { CommandsSeenRepo } from '../db/repos/commands-seen.js';
import { canonicalBytes } from '../util/canonical.js';
import type { Clock } from '../util/clock.js';
import { HindsightError } from '../util/errors.js';
import { sha256 } from '../util/hash.js';
import { clipText, toWellFormedText } from '../util/text.js';

/**
 * Verification of signed commands from the force (PROTOCOL.md "Signed commands"), in the protocol's
 * order; the first failure rejects, is audited and is what the error reply says. The effect of an
 * accepted command runs in the same transaction as the seq bump, the cmd_id record and its audit row.
 * The ops themselves belong to the fleet service; there is no op that enables matching or live
 * recognition, and an unknown op is refused like a forbidden one.
 *
 * A high-risk op (HIGH_RISK_OPS) also needs `args.nonce`, a single-use nonce the box gave out within
 * the last 300 s of its monotonic clock, whenever the box's clock is not synchronised: such a clock may
 * be a day behind, and then a command the force's clock saw expire long ago still looks valid here.
 * The nonce is used up in the command's transaction, after the replay checks.
 */

const ROLE_OPS: Partial<Record<SignerRole, ReadonlySet<string>>> = {
  'command-admin': new Set(COMMAND_OPS),
  'command-operator': new Set(OPERATOR_OPS),
};

export { COMMAND_OPS, HIGH_RISK_OPS, type CommandOp };

const HIGH_RISK: ReadonlySet<string> = new Set(HIGH_RISK_OPS);

export const MAX_COMMAND_BYTES = 16 * 1024;
const MAX_FUTURE_IAT_MS = 30_000;
const MAX_LIFETIME_MS = 300_000;

/** A nonce is good for one command within this long of the box's monotonic clock (a command's lifetime at most). */
export const NONCE_TTL_MS = 300_000;
/** 16 random bytes, base64url. */
const NONCE_PATTERN = /^[A-Za-z0-9_-]{22}$/;
/** Used and expired nonces are kept this long after expiry so a late use is told "expired" or "used", not "unknown". */
const NONCE_KEEP_MS = 3_600_000;
/** Unused nonces kept at most (a burst of get_nonce cannot grow the table). */
const MAX_OPEN_NONCES = 100;

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
  | 'nonce'
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

export interface VerifierOptions {
  /**
   * Whether the box's clock is NTP-synchronised now. When it is not (the default: a clock nobody vouches
   * for), a high-risk command needs a nonce of this box, since its `exp` may look valid to a clock that is
   * behind long after the force's clock passed it.
   */
  clockSynced?: () => boolean;
  /** This process (a nonce is void in any other); defaults to one id per process. */
  bootId?: string;
  /** Milliseconds on a clock that never goes back (performance.now by default); tests pass their own. */
  monotonic?: () => number;
}

export interface IssuedNonce {
  nonce: string;
  ttlS: number;
}

const PROCESS_ID = randomBytes(8).toString('hex');

export class CommandVerifier {
  private readonly seqs: CommandSeqRepo;
  private readonly seen: CommandsSeenRepo;
  private readonly nonces: CommandNoncesRepo;
  private readonly clockSynced: () => boolean;
  private readonly bootId: string;
  private readonly monotonic: () => number;

  constructor(
    private readonly db: Db,
    private readonly audit: AuditLog,
    private readonly keyset: () => SignedKeySet | undefined,
    private readonly topics: DeviceTopics,
    private readonly clock: Clock,
    options: VerifierOptions = {},
  ) {
    this.seqs = new CommandSeqRepo(db);
    this.seen = new CommandsSeenRepo(db);
    this.nonces = new CommandNoncesRepo(db);
    this.clockSynced = options.clockSynced ?? (() => false);
    this.bootId = options.bootId ?? PROCESS_ID;
    this.monotonic = options.monotonic ?? (() => performance.now());
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
        // a box restored from a backup saw sequences only up to the backup: older commands could pass again
        const restored = commandsNotBefore(this.db);
        if (restored !== undefined && v.cmd.iat < restored) {
          throw new CommandRejected('old_seq', `issued before this box was restored from a backup (${new Date(restored).toISOString()}); issue it again`, v.cmd.cmd_id);
        }
        if (seen) throw new CommandRejected('duplicate_cmd_id', `cmd_id ${v.cmd.cmd_id} was already used`, v.cmd.cmd_id);
        if (v.responseTopic !== this.topics.cmdResult()) {
          throw new CommandRejected('bad_response_topic', `the response topic must be ${this.topics.cmdResult()}`, v.cmd.cmd_id);
        }
        if (HIGH_RISK.has(v.cmd.op)) this.consumeNonce(v);
        this.seqs.set(v.issuer.kid, v.cmd.seq);
        this.seen.insert(v.cmd.cmd_id, this.clock.now());
        this.audit.append({ actor: { type: 'force', id: v.issuer.kid, role: v.issuer.role }, action: 'command.accepted', objectIds: [v.cmd.cmd_id], detail: { op: v.cmd.op, seq: v.cmd.seq } });
        return effect();
      })
      .immediate();
  }

  /**
   * A new single-use nonce for a high-risk command (the `get_nonce` op; runs in the command's
   * transaction). Only its hash is kept; expired and surplus ones are deleted here.
   */
  issueNonce(): IssuedNonce {
    const mono = this.monotonic();
    this.nonces.purge(this.bootId, mono - NONCE_TTL_MS - NONCE_KEEP_MS);
    const nonce = randomBytes(16).toString('base64url');
    this.nonces.insert(sha256(nonce), { bootId: this.bootId, issuedMonoMs: mono, issuedUtc: this.clock.now() });
    this.nonces.trimUnused(MAX_OPEN_NONCES);
    return { nonce, ttlS: NONCE_TTL_MS / 1000 };
  }

  /**
   * A high-risk command's `args.nonce`: required while the clock is not synchronised, checked whenever
   * given, and used up in the command's transaction (a rejection later in it leaves the nonce unused).
   */
  private consumeNonce(v: VerifiedCommand): void {
    const { op, cmd_id: cmdId } = v.cmd;
    const ask = 'ask the box for a new one with get_nonce and sign the command with it as args.nonce';
    const given = v.cmd.args.nonce;
    if (given === undefined) {
      if (this.clockSynced()) return;
      throw new CommandRejected('nonce', `${op} needs a fresh nonce from this box while its clock is not synchronised: ${ask}`, cmdId);
    }
    if (typeof given !== 'string' || !NONCE_PATTERN.test(given)) throw new CommandRejected('nonce', `args.nonce is not a nonce of this box: ${ask}`, cmdId);
    const hash = sha256(given);
    const row = this.nonces.get(hash);
    if (!row) throw new CommandRejected('nonce', `the nonce is unknown to this box (not given out by it, or long expired): ${ask}`, cmdId);
    if (row.usedUtc !== null) throw new CommandRejected('nonce', `the nonce was already used (by command ${row.usedBy ?? 'unknown'}): a nonce is good for one command; ${ask}`, cmdId);
    // its age on the monotonic clock of the process that gave it out: a wall clock set back cannot revive it
    if (row.bootId !== this.bootId) throw new CommandRejected('nonce', `the nonce was given out before the box's daemon restarted: ${ask}`, cmdId);
    const age = this.monotonic() - row.issuedMonoMs;
    if (age >= NONCE_TTL_MS) throw new CommandRejected('nonce', `the nonce expired ${Math.ceil((age - NONCE_TTL_MS) / 1000)} s ago (a nonce is good for ${NONCE_TTL_MS / 1000} s): ${ask}`, cmdId);
    this.nonces.markUsed(hash, this.clock.now(), cmdId);
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
