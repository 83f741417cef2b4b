import { Histogram, type Registry } from 'prom-client';
import { AuditRepo } from '../db/repos/audit.js';
import { GapsRepo } from '../db/repos/gaps.js';
import { INCIDENT_STATES, IncidentsRepo } from '../db/repos/incidents.js';
import { SegmentsRepo } from '../db/repos/segments.js';
import { metricsRegistry, scrapeGauge, type MetricsSource } from '../https/metrics.js';
import type { PipelineObserver } from '../incidents/observer.js';
import type { StepName } from '../incidents/step.js';
import type { AppContext } from '../kernel/context.js';
import { bufferStatus, type BufferStatus } from '../recorder/status.js';
import type { HealthAlarmItem } from '../protocol/schemas.js';
import type { DeviceHealth } from '../web/status-api.js';

const DAY_MS = 86_400_000;

const CAMERA_STATES = ['recording', 'undecodable', 'reconnecting', 'failed', 'disabled', 'unknown'] as const;
const LINK_STATES = ['not_enrolled', 'off', 'connecting', 'connected'] as const;

/** What one scrape reads from the database: the buffer's status and the alarms, as `buffer status` and the health document have them. */
interface Snapshot {
  buffer: BufferStatus;
  alarms: HealthAlarmItem[];
  device: DeviceHealth;
}

/**
 * The box's Prometheus figures (GET /metrics of the web app). Per camera (by id; names and zones stay out):
 * state, frame rate, bitrate, age of the newest segment, gaps and recorder starts, buffered and locked
 * bytes. The buffer's totals and its deletions, incidents by state with their attempts, the step and
 * face-pipeline stage times, the outbox, the link to the force, alarms, health, and Node's own figures.
 * Everything but the times is read from the database at scrape time; the times are observed as they happen.
 */
export class BoxMetrics implements PipelineObserver, MetricsSource {
  readonly registry: Registry = metricsRegistry();
  private readonly steps: Histogram<'step' | 'outcome'>;
  private readonly analysis: Histogram;
  private readonly stages: Histogram<'stage'>;
  private last: Snapshot | undefined;

  constructor(
    private readonly ctx: AppContext,
    private readonly d: { device: () => DeviceHealth; alarms: () => HealthAlarmItem[] },
  ) {
    const r = this.registry;
    // seconds to hours: an extraction takes seconds, an analysis of a long incident on a small board an hour
    const buckets = [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
    this.steps = new Histogram({ name: 'hindsight_incident_step_seconds', help: 'How long an incident step ran (extracting: cutting the master clips; analysing: faces, package, seal), by step and outcome (done or failed).', labelNames: ['step', 'outcome'], buckets, registers: [r] });
    this.analysis = new Histogram({ name: 'hindsight_pipeline_analysis_seconds', help: "Wall time of an incident's face analysis.", buckets, registers: [r] });
    this.stages = new Histogram({ name: 'hindsight_pipeline_stage_seconds', help: "Time of each face-pipeline stage in an incident's analysis, summed over its frames and clips (decode_wait, detect, landmarks, align_quality, embed, track, write).", labelNames: ['stage'], buckets, registers: [r] });

    const camera = (name: string, help: string, value: (c: BufferStatus['cameras'][number]) => number | null): void => {
      scrapeGauge(r, name, help, ['camera'], (g) => {
        for (const c of this.snapshot().buffer.cameras) {
          const v = value(c);
          if (v !== null) g.set({ camera: c.cameraId }, v);
        }
      });
    };
    scrapeGauge(r, 'hindsight_camera_state', 'The camera recorder\'s state: 1 for the state it is in, 0 for the others (recording, undecodable, reconnecting, failed, disabled, unknown: no daemon reports).', ['camera', 'state'], (g) => {
      for (const c of this.snapshot().buffer.cameras) for (const s of CAMERA_STATES) g.set({ camera: c.cameraId, state: s }, c.state === s ? 1 : 0);
    });
    camera('hindsight_camera_fps', 'Frames per second the camera sends, as the recorder measures them (absent while not recording).', (c) => c.fps);
    camera('hindsight_camera_bitrate_bits_per_second', 'Bitrate of the camera\'s recording (absent while not recording).', (c) => (c.bitrateKbps === null ? null : c.bitrateKbps * 1000));
    camera('hindsight_camera_last_segment_age_seconds', 'Seconds since the end of the camera\'s newest buffered segment.', (c) => c.lastSegmentAgeS);
    camera('hindsight_camera_buffered_bytes', 'Bytes of the camera\'s footage in the buffer.', (c) => c.bytes);
    camera('hindsight_camera_buffered_seconds', 'Seconds of the camera\'s footage in the buffer.', (c) => c.hoursBuffered * 3600);
    camera('hindsight_camera_recorder_starts', 'Recorder (ffmpeg) starts for the camera since the daemon started: more than 1 means it reconnected.', (c) => c.spawns);
    scrapeGauge(r, 'hindsight_camera_gaps_24h', 'Gaps in the camera\'s recording (outages) in the last 24 hours, the one still open included.', ['camera'], (g) => {
      const gaps = new GapsRepo(ctx.db);
      const since = ctx.clock.now() - DAY_MS;
      for (const c of this.snapshot().buffer.cameras) g.set({ camera: c.cameraId }, gaps.overlapping(c.cameraId, since, Number.MAX_SAFE_INTEGER).length);
    });
    scrapeGauge(r, 'hindsight_camera_locked_bytes', 'Bytes of the camera\'s buffered footage held by an evidence lock (retention keeps them).', ['camera'], (g) => {
      for (const l of new SegmentsRepo(ctx.db).lockedBytesByCamera()) g.set({ camera: l.cameraId }, l.bytes);
    });

    scrapeGauge(r, 'hindsight_buffer_bytes', 'Bytes of footage in the buffer, every camera.', [], (g) => g.set(this.snapshot().buffer.totalBytes));
    scrapeGauge(r, 'hindsight_buffer_quota_bytes', 'The buffer\'s quota (buffer.quota_gb): above it retention deletes the oldest unlocked footage (0: no quota).', [], (g) => g.set(this.snapshot().buffer.policy.quotaBytes));
    scrapeGauge(r, 'hindsight_buffer_retention_seconds', 'How long footage is kept (buffer.hours, or the force\'s lower cap).', [], (g) => g.set(this.snapshot().buffer.policy.hours * 3600));
    scrapeGauge(r, 'hindsight_buffer_locked_bytes', 'Bytes of buffered footage held by evidence locks.', [], (g) => g.set(new SegmentsRepo(ctx.db).lockedBytesByCamera().reduce((n, l) => n + l.bytes, 0)));
    const deletions = (field: 'rows' | 'segments' | 'bytes') => (g: { set: (v: number) => void }) =>
      g.set(new AuditRepo(ctx.db).totalsOfActionSince('buffer.deleted', ctx.clock.now() - DAY_MS, ['segments', 'bytes'])[field]);
    scrapeGauge(r, 'hindsight_buffer_deletions_24h', 'Deletion receipts (`buffer.deleted` audit rows, one per batch retention deleted) in the last 24 hours.', [], deletions('rows'));
    scrapeGauge(r, 'hindsight_buffer_deleted_segments_24h', 'Segments retention deleted in the last 24 hours.', [], deletions('segments'));
    scrapeGauge(r, 'hindsight_buffer_deleted_bytes_24h', 'Bytes retention deleted in the last 24 hours.', [], deletions('bytes'));

    scrapeGauge(r, 'hindsight_incidents', 'Incidents in each state.', ['state'], (g) => {
      const counts = new Map(new IncidentsRepo(ctx.db).countsByState().map((c) => [c.state, c]));
      for (const s of INCIDENT_STATES) g.set({ state: s }, counts.get(s)?.count ?? 0);
    });
    scrapeGauge(r, 'hindsight_incident_attempts', 'Attempts used by the incidents in each state, summed (failed ones retry up to incidents.max_attempts).', ['state'], (g) => {
      const counts = new Map(new IncidentsRepo(ctx.db).countsByState().map((c) => [c.state, c]));
      for (const s of INCIDENT_STATES) g.set({ state: s }, counts.get(s)?.attempts ?? 0);
    });

    scrapeGauge(r, 'hindsight_outbox_envelopes', 'Evidence envelopes waiting to be delivered to the force.', [], (g) => g.set(this.snapshot().device.link.outbox.pending));
    scrapeGauge(r, 'hindsight_outbox_bytes', 'Bytes of the envelopes waiting (new evidence is refused at uplink.outbox_max_bytes).', [], (g) => g.set(this.snapshot().device.link.outbox.bytes));
    scrapeGauge(r, 'hindsight_outbox_oldest_age_seconds', 'Age of the oldest envelope waiting (0 when none waits).', [], (g) => g.set(this.snapshot().device.link.outbox.oldest_age_s ?? 0));
    scrapeGauge(r, 'hindsight_uplink_state', 'The MQTT link to the force: 1 for its state, 0 for the others (not_enrolled, off, connecting, connected).', ['state'], (g) => {
      const state = this.snapshot().device.link.state;
      for (const s of LINK_STATES) g.set({ state: s }, state === s ? 1 : 0);
    });
    scrapeGauge(r, 'hindsight_alarms', 'Active alarms by kind, as the health document sent to the force lists them.', ['kind'], (g) => {
      for (const a of this.snapshot().alarms) g.inc({ kind: a.kind });
    });
    scrapeGauge(r, 'hindsight_healthy', "1 while the daemon's own health check finds nothing wrong (what /healthz answers).", [], (g) => g.set(this.snapshot().device.health.healthy ? 1 : 0));
    scrapeGauge(r, 'hindsight_ready', '1 once every service has started, until the daemon stops (what /readyz answers).', [], (g) => g.set(this.snapshot().device.ready ? 1 : 0));
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** One scrape: the gauges read one snapshot of the database, taken when the first of them asks. */
  async scrape(): Promise<string> {
    this.last = undefined;
    return this.registry.metrics();
  }

  stepEnded(step: StepName, seconds: number, outcome: 'done' | 'failed'): void {
    this.steps.observe({ step, outcome }, seconds);
  }

  facesAnalysed(wallSeconds: number, stageSeconds: Readonly<Record<string, number>>): void {
    this.analysis.observe(wallSeconds);
    for (const [stage, s] of Object.entries(stageSeconds)) this.stages.observe({ stage }, s);
  }

  private snapshot(): Snapshot {
    this.last ??= { buffer: bufferStatus(this.ctx.db, this.ctx.config, this.ctx.clock), alarms: this.d.alarms(), device: this.d.device() };
    return this.last;
  }
}
