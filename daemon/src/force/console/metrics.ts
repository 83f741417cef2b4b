import type { Registry } from 'prom-client';
import type { Db } from '../../db/db.js';
import { metricsRegistry, scrapeGauge, type MetricsSource } from '../../https/metrics.js';
import type { Clock } from '../../util/clock.js';
import { ForceFiguresRepo } from '../db/figures.js';
import { fleetLines, type FleetLine } from '../fleet-view.js';
import type { Cases } from './cases.js';

const DAY_MS = 86_400_000;
const ENVELOPE_STATES = ['receiving', 'opening', 'stored', 'rejected'] as const;
const TRIAGE_STATES = ['untriaged', 'accepted', 'rejected', 'expired'] as const;
const BOX_STATES = ['online', 'offline', 'revoked', 'never_seen'] as const;

/** A fleet line's state as a label value (no space). */
const boxState = (l: FleetLine): string => l.state.replace(' ', '_');

/**
 * The force's Prometheus figures (GET /metrics of the console), read from the force database at scrape
 * time: the intake every receiver writes to (envelopes by state, bytes in reassembly, rejections, each
 * box's newest envelope), triage, candidate lists, the review queue, the fleet; and Node's own figures of
 * the console's process. Boxes by device id; no store, reviewer, person or crime reference.
 */
export class ForceMetrics implements MetricsSource {
  readonly registry: Registry = metricsRegistry();
  /** The fleet's lines of one scrape (several gauges read them). */
  private fleet: FleetLine[] | undefined;

  constructor(d: { db: Db; clock: Clock; cases: Cases }) {
    const r = this.registry;
    const figures = new ForceFiguresRepo(d.db);
    const byKey = (rows: { key: string; n: number }[]): Map<string, number> => new Map(rows.map((x) => [x.key, x.n]));
    scrapeGauge(r, 'hindsight_force_envelopes', 'Evidence envelopes by intake state (receiving: chunks arriving; opening; stored; rejected).', ['state'], (g) => {
      const n = byKey(figures.envelopesByState());
      for (const s of ENVELOPE_STATES) g.set({ state: s }, n.get(s) ?? 0);
    });
    scrapeGauge(r, 'hindsight_force_reassembly_bytes', 'Bytes of chunks the database holds for envelopes not yet stored.', [], (g) => g.set(figures.reassemblyBytes()));
    scrapeGauge(r, 'hindsight_force_rejections_24h', 'Evidence messages refused in the last 24 hours, by reason (a `suppressed` row sums up a flooding box).', ['reason'], (g) => {
      for (const x of figures.rejectionsSince(d.clock.now() - DAY_MS)) g.set({ reason: x.key }, x.n);
    });
    scrapeGauge(r, 'hindsight_force_box_last_envelope_age_seconds', "Seconds since the box's newest envelope was first seen by a receiver.", ['device'], (g) => {
      const now = d.clock.now();
      for (const x of figures.lastEnvelopeByDevice()) g.set({ device: x.deviceId }, Math.max(0, (now - x.utc) / 1000));
    });
    scrapeGauge(r, 'hindsight_force_triage', 'Incidents by triage state (untriaged: waiting for a supervisor).', ['state'], (g) => {
      const n = byKey(figures.triageByState());
      for (const s of TRIAGE_STATES) g.set({ state: s }, n.get(s) ?? 0);
    });
    scrapeGauge(r, 'hindsight_force_triage_oldest_age_seconds', 'Seconds the incident waiting longest for triage has waited (0: none waits; deleted after workbench.triage_max_days).', [], (g) => {
      const oldest = figures.oldestUntriagedUtc();
      g.set(oldest === null ? 0 : Math.max(0, (d.clock.now() - oldest) / 1000));
    });
    scrapeGauge(r, 'hindsight_force_candidate_lists', 'Candidate lists (one per searched subject).', [], (g) => g.set(figures.candidateLists().lists));
    scrapeGauge(r, 'hindsight_force_candidates', 'Candidates in the lists.', [], (g) => g.set(figures.candidateLists().candidates));
    scrapeGauge(r, 'hindsight_force_review_cases', 'Accepted incidents by review state (to_review and second_review: the review queue).', ['state'], (g) => {
      for (const [state, n] of Object.entries(d.cases.countByState())) g.set({ state }, n);
    });
    scrapeGauge(r, 'hindsight_force_boxes', 'Enrolled boxes by presence (online, offline, revoked, never_seen).', ['state'], (g) => {
      const lines = this.fleetLines(d.db);
      for (const s of BOX_STATES) g.set({ state: s }, lines.filter((l) => boxState(l) === s).length);
    });
    scrapeGauge(r, 'hindsight_force_box_online', '1 while the box is online, 0 otherwise.', ['device'], (g) => {
      for (const l of this.fleetLines(d.db)) g.set({ device: l.deviceId }, l.state === 'online' ? 1 : 0);
    });
    scrapeGauge(r, 'hindsight_force_box_alarms', "Active alarms in the box's latest health document.", ['device'], (g) => {
      for (const l of this.fleetLines(d.db)) g.set({ device: l.deviceId }, l.alarms.length);
    });
    scrapeGauge(r, 'hindsight_force_box_audit_alarm', "1 when the check of the box's audit log through its heads raised an alarm (rewritten, truncated or forked).", ['device'], (g) => {
      for (const l of this.fleetLines(d.db)) g.set({ device: l.deviceId }, l.audit?.status === 'alarm' ? 1 : 0);
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  async scrape(): Promise<string> {
    this.fleet = undefined;
    return this.registry.metrics();
  }

  private fleetLines(db: Db): FleetLine[] {
    this.fleet ??= fleetLines(db);
    return this.fleet;
  }
}
