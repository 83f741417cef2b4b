import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { checkPayload, CommandResultPayload, PayloadError, type CommandResultMessage, type ReportedConfigMessage } from '../protocol/schemas.js';
import { errorMessage, HindsightError } from '../util/errors.js';
import { CommandRejected, type CommandOp, type CommandVerifier, type VerifiedCommand } from './command-verify.js';

/**
 * The box's side of the force's signed commands (PROTOCOL.md "Signed commands"): each message on
 * `cmd` is verified in the protocol's order (CommandVerifier), its arguments checked against the op's
 * schema, and its effect carried out in the same transaction as the issuer's sequence and the audit
 * row. The reply always goes to this box's own `cmd/res` with the request's correlation data, whatever
 * response topic the request named; a rejected command changes nothing and is answered with its reason.
 */

/** What the box lends the ops; the composition root (the uplink) fills it in. */
export interface CommandHost {
  /** The health document, as the box publishes it. */
  status(): Promise<Record<string, unknown>>;
  /** The force-owned part of the running configuration (no secrets, nothing of the shop's cameras). */
  config(): Record<string, unknown>;
  /**
   * Apply a signed desired-configuration document (checked as the retained `config/desired` one is: a
   * command-admin key, its signature, this box, a version above the applied one, the schema) inside the
   * command's transaction; throws with the reasons when it is refused. `after` (once the reply is sent)
   * publishes the report and re-checks what depends on the caps.
   */
  setConfig(desired: unknown): { report: ReportedConfigMessage; after: () => void };
  /** Install a key set signed by the pinned force root (inside the command's transaction); throws when it does not verify. */
  installKeySet(signed: unknown, issuerKid: string): { seq: number; recipients: string[] };
  /** Send an incident's queued evidence now; throws a HindsightError saying why not. */
  resendIncident(incidentId: string): { envelopes: number };
  /**
   * Keep an incident's master clips past the box's retention for `days` more days from now (0 ends the
   * hold); inside the command's transaction. Throws a HindsightError saying why not (no such incident,
   * its masters already erased).
   */
  holdIncident(incidentId: string, days: number, by: string): { incident_id: string; state: string; masters_kept_until: string | null };
  /**
   * Inside the command's transaction: check an incident's master clips can be sent (cut, still kept,
   * unchanged) and audit the request; throws a HindsightError saying why not. The plan goes to `sendMasters`.
   */
  planMasters(incidentId: string, by: string): unknown;
  /** Once the transaction commits: seal each master clip to the force and queue it (one envelope per clip). */
  sendMasters(plan: unknown): Promise<unknown>;
  /** End every web session on the box (the managers sign in again); returns how many ended. */
  revokeSessions(): number;
  /** Stop the daemon cleanly so its service manager starts it again. */
  restart(reason: string): void;
  /**
   * The newest `lines` lines of the daemon's own log, redacted, in at most `maxBytes` of JSON (oldest
   * dropped first; `truncated` says so).
   */
  logs(lines: number, maxBytes: number): { lines: unknown[]; truncated: boolean };
  /**
   * Inside the wipe command's transaction: audit `device.wiped` and record the wipe as pending (so it
   * finishes even if the daemon dies before it does); returns what will be destroyed.
   */
  markWipe(w: { cmdId: string; issuerKid: string; role: string; reason: string }): Record<string, unknown>;
  /** Once the reply is sent: stop the daemon and destroy the box's keys, enrollment and data. */
  wipe(reason: string): void;
}

/** Correlation data longer than this is not echoed (the force's is a command id). */
const MAX_CORRELATION_BYTES = 256;

const NoArgs = Type.Object({}, { additionalProperties: false });
const IncidentArgs = Type.Object({ incident_id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }) }, { additionalProperties: false });
const HoldArgs = Type.Object({ incident_id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }), days: Type.Integer({ minimum: 0, maximum: 365 }) }, { additionalProperties: false });
const ReasonArgs = Type.Object({ reason: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false });
// A high-risk op's nonce is checked (and used up) by the verifier; the schema only lets it through.
const Nonce = Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{22}$' }));
const SetConfigArgs = Type.Object({ desired: Type.Object({}, { additionalProperties: true }) }, { additionalProperties: false });
const KeySetArgs = Type.Object({ keyset: Type.Object({}, { additionalProperties: true }), nonce: Nonce }, { additionalProperties: false });
const WipeArgs = Type.Object({ reason: Type.String({ minLength: 1, maxLength: 200 }), nonce: Nonce }, { additionalProperties: false });
const LogsArgs = Type.Object({ lines: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }, { additionalProperties: false });

/** Room for the log lines in a reply: the broker's message limit is 256 KiB, and the reply has its envelope. */
export const MAX_LOG_REPLY_BYTES = 192 * 1024;
const DEFAULT_LOG_LINES = 200;

interface OpResult {
  /** Returned in the reply. */
  data?: unknown;
  /** Read-only work done after the transaction commits (its result becomes the reply's data). */
  read?: () => Promise<unknown>;
  /** Done once the reply is sent (a restart must not cut its own answer). */
  after?: () => void;
}

interface OpSpec<S extends TSchema> {
  args: S;
  run(args: Static<S>, v: VerifiedCommand): OpResult;
}

const op = <S extends TSchema>(args: S, run: (args: Static<S>, v: VerifiedCommand) => OpResult): OpSpec<S> => ({ args, run });

export class FleetCommands {
  private readonly ops: Record<CommandOp, OpSpec<TSchema>>;

  constructor(
    private readonly verifier: CommandVerifier,
    host: CommandHost,
    private readonly now: () => number,
  ) {
    this.ops = {
      ping: op(NoArgs, () => ({ data: { pong: true, ts: this.now() } })),
      get_status: op(NoArgs, () => ({ read: () => host.status() })),
      get_config: op(NoArgs, () => ({ data: host.config() })),
      get_nonce: op(NoArgs, () => {
        const n = this.verifier.issueNonce();
        // the box's time too: the force sees how far off an unsynchronised clock is
        return { data: { nonce: n.nonce, expires_in_s: n.ttlS, box_time: this.now() } };
      }),
      get_logs: op(LogsArgs, (a) => ({ read: async () => host.logs(a.lines ?? DEFAULT_LOG_LINES, MAX_LOG_REPLY_BYTES) })),
      // the force's signed document, applied now with the reply saying the version, its hash and restart_required
      set_config: op(SetConfigArgs, (a) => {
        const r = host.setConfig(a.desired);
        return { data: r.report, after: r.after };
      }),
      set_key_set: op(KeySetArgs, (a, v) => ({ data: host.installKeySet(a.keyset, v.issuer.kid) })),
      resend_incident: op(IncidentArgs, (a) => ({ data: host.resendIncident(a.incident_id) })),
      hold_incident: op(HoldArgs, (a, v) => ({ data: host.holdIncident(a.incident_id, a.days, v.issuer.kid) })),
      // checked and audited in the transaction; sealing the clips (seconds for large ones) comes after it
      upload_masters: op(IncidentArgs, (a, v) => {
        const plan = host.planMasters(a.incident_id, v.issuer.kid);
        return { read: () => host.sendMasters(plan) };
      }),
      revoke_sessions: op(NoArgs, () => ({ data: { sessions_revoked: host.revokeSessions() } })),
      restart: op(ReasonArgs, (a, v) => ({ data: { restarting: true }, after: () => host.restart(a.reason ? `force command ${v.cmd.cmd_id}: ${a.reason}` : `force command ${v.cmd.cmd_id}`) })),
      // a stolen box: audited and marked here, destroyed once the force has its answer
      wipe: op(WipeArgs, (a, v) => ({
        data: { wiping: true, ...host.markWipe({ cmdId: v.cmd.cmd_id, issuerKid: v.issuer.kid, role: v.issuer.role, reason: a.reason }) },
        after: () => host.wipe(`force command ${v.cmd.cmd_id}`),
      })),
    };
  }

  /**
   * One command message: verify, check the op's arguments, run the effect, and build the reply (to be
   * published on `cmd/res` with `correlationData`, then `after` run). Never throws for a bad command.
   */
  async handle(payload: Buffer, responseTopic: string | undefined, correlationData: Buffer | undefined): Promise<{ reply: CommandResultMessage; correlationData: Buffer | undefined; after?: () => void }> {
    const correlation = correlationData && correlationData.length <= MAX_CORRELATION_BYTES ? correlationData : undefined;
    let cmdId = 'unknown';
    const outcome = this.verifier.handle(payload, responseTopic, (v) => {
      cmdId = v.cmd.cmd_id;
      const spec = this.ops[v.cmd.op as CommandOp];
      let args: unknown;
      try {
        args = checkPayload(spec.args, v.cmd.args);
      } catch (err) {
        throw new CommandRejected('bad_args', `arguments of ${v.cmd.op}: ${err instanceof PayloadError ? err.message : errorMessage(err)}`, v.cmd.cmd_id);
      }
      try {
        return spec.run(args, v);
      } catch (err) {
        if (err instanceof CommandRejected) throw err;
        // the effect could not be done (a key set that does not verify, an incident that is not queued):
        // nothing of it stays, and the force is told why
        throw new CommandRejected('failed', err instanceof HindsightError || err instanceof Error ? err.message : String(err), v.cmd.cmd_id);
      }
    });
    if (!outcome.ok) {
      const reply: CommandResultMessage = { cmd_id: outcome.error.cmdId ?? 'unknown', status: 'error', error: `${outcome.error.reason}: ${outcome.error.message}`.slice(0, 2000) };
      return { reply, correlationData: correlation };
    }
    const r = outcome.value;
    let data = r.data;
    if (r.read) {
      try {
        data = await r.read();
      } catch (err) {
        return { reply: { cmd_id: cmdId, status: 'error', error: `failed: ${errorMessage(err)}`.slice(0, 2000) }, correlationData: correlation };
      }
    }
    const reply = checkPayload(CommandResultPayload, { cmd_id: cmdId, status: 'ok', ...(data === undefined ? {} : { data }) });
    return { reply, correlationData: correlation, after: r.after };
  }
}
