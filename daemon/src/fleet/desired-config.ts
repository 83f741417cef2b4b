import type { SignedKeySet } from '../crypto/keyset.js';
import { trustedSigner } from '../crypto/keyset.js';
import { SIG_CONTEXT, verifyWith } from '../crypto/keys.js';
import type { AuditLog } from '../audit/log.js';
import type { AppliedConfig, ForcePolicyPort } from '../protocol/force-config.js';
import { DesiredConfigPayload, parsePayload, type ReportedConfigMessage } from '../protocol/schemas.js';
import { canonicalBytes } from '../util/canonical.js';
import { errorMessage } from '../util/errors.js';

/**
 * The box's side of the force's desired configuration: the retained `config/desired` document is checked
 * (schema, a command-admin key of the installed key set, its signature, this box's id) before the policy
 * sees it; the answer is what goes to `config/reported`. A document that fails is refused whole with its
 * reasons and the running configuration stays as it is.
 */
export class DesiredConfigHandler {
  constructor(
    private readonly d: { deviceId: string; policy: ForcePolicyPort; keyset: () => SignedKeySet | undefined; audit: AuditLog; now: () => number },
  ) {}

  /** The report of what runs now (sent after every connect). */
  report(refused?: { version?: number; errors: string[] }): ReportedConfigMessage {
    return reported(this.d.policy.applied(), refused);
  }

  /** One desired document: the report to publish, and whether something changed (caps to re-check). */
  handle(payload: Buffer): { report: ReportedConfigMessage; changed: boolean } | undefined {
    // a retained message is cleared with an empty payload: nothing to do
    if (payload.length === 0) return undefined;
    let kid = 'unknown';
    let version: number | undefined;
    const refuse = (why: string): { report: ReportedConfigMessage; changed: boolean } => {
      this.d.audit.append({ actor: { type: 'force', id: kid }, action: 'config.force_rejected', result: 'denied', detail: { version: version ?? null, errors: [why] } });
      return { report: this.report({ version, errors: [why] }), changed: false };
    };
    let msg;
    try {
      msg = parsePayload(DesiredConfigPayload, payload, 64 * 1024);
    } catch (err) {
      return refuse(`not a desired-config document: ${errorMessage(err)}`);
    }
    kid = msg.kid;
    version = msg.doc.version;
    const body = this.d.keyset()?.keyset;
    const now = this.d.now();
    if (body?.revoked?.includes(msg.kid)) return refuse(`signing key ${msg.kid} is revoked`);
    const signer = body ? trustedSigner(body, msg.kid, 'command-admin', now) : undefined;
    if (!signer) return refuse(`signing key ${msg.kid} is not a command-admin key of the installed force key set`);
    if (!verifyWith(signer.pk, SIG_CONTEXT.config, msg.sig, canonicalBytes(msg.doc))) return refuse('the signature does not verify');
    if (msg.doc.device_id !== this.d.deviceId) return refuse(`the document is for box ${msg.doc.device_id}`);
    const outcome = this.d.policy.accept(msg.doc, { type: 'force', id: msg.kid, role: signer.role });
    return outcome.ok ? { report: reported(outcome.applied), changed: outcome.changed } : { report: reported(outcome.applied, { version, errors: outcome.errors }), changed: false };
  }
}

function reported(a: AppliedConfig, refused?: { version?: number; errors: string[] }): ReportedConfigMessage {
  return {
    applied_version: a.version,
    sha256: a.sha256,
    restart_required: a.restartRequired,
    ...(refused ? { ...(refused.version !== undefined ? { rejected_version: refused.version } : {}), errors: refused.errors.slice(0, 100).map((e) => e.slice(0, 500)) } : {}),
  };
}
