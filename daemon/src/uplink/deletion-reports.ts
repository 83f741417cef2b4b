import type { AppContext } from '../kernel/context.js';
import { AuditRepo } from '../db/repos/audit.js';
import { MetaRepo } from '../db/repos/meta.js';
import { DELETIONS_INCIDENT, DELETIONS_SCHEMA, encodeDeletionsPackage } from '../evidence/deletions-package.js';
import { MAX_DELETION_ROWS } from '../protocol/schemas.js';
import { errorMessage } from '../util/errors.js';
import type { Outbox } from './outbox.js';
import { createSealer } from './sealer.js';

/**
 * The audit actions that record a deletion the force is told of: footage deleted by retention, master
 * clips erased (end of retention, a cancelled incident), plaintext working files deleted after delivery.
 */
export const DELETION_ACTIONS = ['buffer.deleted', 'evidence.erased', 'evidence.working_files_deleted'] as const;

/** The last audit row already put in a deletion report (meta key). */
const REPORTED_KEY = 'uplink.deletions_reported_seq';

/**
 * Deletion receipts reach the force sealed, like evidence: the audit rows of the box's deletions since the
 * last report, with their hashes, in a device-signed report (one envelope per MAX_DELETION_ROWS rows)
 * queued in the outbox, so a report is as durable as evidence. The report and the "reported up to" mark
 * commit together: a crash re-sends nothing twice and skips nothing.
 */
export class DeletionReports {
  private running: Promise<number> | undefined;

  constructor(
    private readonly ctx: Pick<AppContext, 'config' | 'paths' | 'db' | 'clock' | 'clockSync' | 'bus' | 'log'>,
    private readonly outbox: Outbox,
  ) {}

  /** Queue what is due (at most `maxReports` envelopes this time); never throws; one run at a time. */
  queueDue(maxReports = 5): Promise<number> {
    this.running ??= this.run(maxReports)
      .catch((err: unknown) => {
        this.ctx.log.warn({ service: 'uplink', err: errorMessage(err) }, 'cannot queue the deletion receipts now; trying again at the next interval');
        return 0;
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(maxReports: number): Promise<number> {
    const sealer = createSealer(this.ctx, this.outbox);
    if (!sealer) return 0;
    const meta = new MetaRepo(this.ctx.db);
    const audit = new AuditRepo(this.ctx.db);
    let queued = 0;
    while (queued < maxReports && this.outbox.hasCapacity()) {
      const after = Number(meta.get(REPORTED_KEY) ?? 0);
      const rows = audit.ofActionsAfter(DELETION_ACTIONS, after, MAX_DELETION_ROWS);
      if (!rows.length) break;
      const last = rows.at(-1)!.seq;
      const pt = encodeDeletionsPackage(
        {
          v: 1,
          schema: DELETIONS_SCHEMA,
          device_id: this.ctx.config.device.id,
          created_at: this.ctx.clock.now(),
          rows: rows.map((r) => ({ seq: r.seq, id: r.id, ts_utc: r.ts_utc, action: r.action, object_ids: r.object_ids, sha256s: r.sha256s, detail: r.detail, hash: r.hash })),
        },
        sealer.deviceKey,
      );
      const sealed = await sealer.seal(pt, DELETIONS_INCIDENT);
      this.ctx.db.transaction(() => {
        // another run may not have reported these meanwhile (one run at a time; checked anyway)
        if (Number(meta.get(REPORTED_KEY) ?? 0) !== after) return;
        this.outbox.enqueue(sealed, { kind: 'deletions' });
        meta.set(REPORTED_KEY, String(last));
      })();
      queued += 1;
      this.ctx.log.info({ service: 'uplink', rows: rows.length, up_to_seq: last, envelope: sealed.manifest.header.envelope_id }, 'deletion receipts queued for the force');
      this.ctx.bus.emit('envelope.queued', { envelopeId: sealed.manifest.header.envelope_id, incidentId: DELETIONS_INCIDENT });
    }
    return queued;
  }
}
