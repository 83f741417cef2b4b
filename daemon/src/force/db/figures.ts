import type { Db } from '../../db/db.js';
import { statement } from '../../db/statements.js';

/** A count per value of a column (states, reasons...). */
export interface CountOf {
  key: string;
  n: number;
}

/**
 * The force's figures for its metrics (console/metrics.ts), counted in SQL: the intake every receiver
 * writes to, triage and the candidate lists. Counts and times only, never a face or a name.
 */
export class ForceFiguresRepo {
  constructor(private readonly db: Db) {}

  /** Envelopes by intake state (receiving, opening, stored, rejected). */
  envelopesByState(): CountOf[] {
    return statement(this.db, 'SELECT state AS key, count(*) AS n FROM envelopes GROUP BY state').all() as CountOf[];
  }

  /** Bytes of the chunks held for envelopes not yet stored (in reassembly, or being opened). */
  reassemblyBytes(): number {
    return statement(this.db, "SELECT COALESCE(SUM(length(c.data)), 0) FROM chunks c JOIN envelopes e ON e.envelope_id = c.envelope_id WHERE e.state IN ('receiving', 'opening')").pluck().get() as number;
  }

  /** When each box's newest envelope was first seen. */
  lastEnvelopeByDevice(): { deviceId: string; utc: number }[] {
    return statement(this.db, 'SELECT device_id AS deviceId, MAX(first_seen_utc) AS utc FROM envelopes GROUP BY device_id').all() as { deviceId: string; utc: number }[];
  }

  /** Rejection rows since `sinceUtc`, by reason (a `suppressed` row sums up a flooding box's many). */
  rejectionsSince(sinceUtc: number): CountOf[] {
    return statement(this.db, 'SELECT reason AS key, count(*) AS n FROM rejections WHERE ts_utc >= ? GROUP BY reason').all(sinceUtc) as CountOf[];
  }

  /** Incidents by triage state. */
  triageByState(): CountOf[] {
    return statement(this.db, 'SELECT state AS key, count(*) AS n FROM triage GROUP BY state').all() as CountOf[];
  }

  /** When the incident waiting longest for triage arrived (null: none waits). */
  oldestUntriagedUtc(): number | null {
    return statement(this.db, "SELECT MIN(received_utc) FROM triage WHERE state = 'untriaged'").pluck().get() as number | null;
  }

  /** Candidate lists (one per searched subject) and the candidates in them. */
  candidateLists(): { lists: number; candidates: number } {
    return statement(this.db, 'SELECT count(DISTINCT envelope_id || char(0) || subject_id) AS lists, count(*) AS candidates FROM candidates').get() as { lists: number; candidates: number };
  }
}
