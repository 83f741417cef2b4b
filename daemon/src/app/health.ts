import { statfsSync } from 'node:fs';
import si from 'systeminformation';
import { validRecipients } from '../crypto/keyset.js';
import { AlarmsRepo } from '../db/repos/alarms.js';
import { BootsRepo } from '../db/repos/boots.js';
import { CameraStatusRepo, type RecorderState } from '../db/repos/camera-status.js';
import { CamerasRepo } from '../db/repos/cameras.js';
import { GapsRepo } from '../db/repos/gaps.js';
import { IncidentsRepo } from '../db/repos/incidents.js';
import { OutboxRepo } from '../db/repos/outbox.js';
import type { AppContext } from '../kernel/context.js';
import type { FacePipelineCapability } from '../models/verify.js';
import { MAX_HEALTH_ALARMS, type HealthAlarmItem } from '../protocol/schemas.js';
import { bufferPolicy, DISK_LOW } from '../recorder/retention.js';
import { bufferStatus, cameraStateOf, recorderStatuses, type CameraBufferStatus } from '../recorder/status.js';
import { isEnrolled, KeySetStore } from '../uplink/enrollment.js';
import { isoUtc } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';

/*
 * Alarms computed each time the health document is built (never stored: each clears itself with its cause).
 * Kinds follow the stored alarms' `area.what` names; the subject says which camera, key set...
 */
export const CAMERA_DOWN = 'camera.down';
export const CLOCK_UNSYNCED = 'clock.unsynced';
export const OUTBOX_GROWING = 'uplink.outbox_growing';
export const KEYSET_EXPIRING = 'uplink.keyset_expiring';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const GB = 1024 ** 3;

/** A camera not recording for this long is down: longer than an IP camera's own reboot (about a minute) plus the recorder's reconnect, so a camera restarting by itself is no alarm. */
const CAMERA_DOWN_AFTER_MS = 2 * MINUTE;
/** chrony or timesyncd keep a box within milliseconds; a second off means the time service is not doing its job, and evidence times (and the signed commands' validity windows) drift with it. */
const CLOCK_MAX_OFFSET_MS = 1000;
/** A box that reaches the force delivers an envelope within minutes; one waiting an hour means the link or the force is not taking evidence. */
const OUTBOX_MAX_WAIT_MS = HOUR;
/** At uplink.outbox_max_bytes new evidence is refused; at 80 % there is still time to fix the link. */
const OUTBOX_FULL_SHARE = 0.8;
/** The force needs time to rotate its recipient key and every box to install the new set before the last key ends (then the box cannot seal evidence at all). */
const KEYSET_WARN_MS = 30 * DAY;
/** Retention runs every buffer.retention_interval_s: between two runs the cameras may dip under the free-space floor; under it by more than two runs' worth of recording, retention is not keeping up. */
const DISK_LOW_RUNS = 2;

/** Recording, as far as the footage goes: an undecodable camera records (and has its own stored alarm). */
const RECORDING: ReadonlySet<RecorderState | 'unknown'> = new Set(['recording', 'undecodable']);

export interface HealthOptions {
  /** Free bytes on the buffer's disk, null when unknown (injected in tests: a full disk cannot be staged here). */
  freeBytes?: () => number | null;
}

/**
 * The box's own figures for the health document the uplink sends the force (PROTOCOL.md): the machine
 * (cpu, memory, temperature where the board has a sensor, with `systeminformation`), the buffer's disk,
 * every camera, incidents open and failed, the face models and the active alarms. No personal data: camera
 * ids and states, counts and hashes only. A part that cannot be read is left out with the reason.
 */
export function healthFigures(ctx: AppContext, models: () => FacePipelineCapability, options: HealthOptions = {}): () => Promise<Record<string, unknown>> {
  const seen = new FirstSeen();
  return async () => {
    const out: Record<string, unknown> = {};
    try {
      const [load, mem, temp] = await Promise.all([si.currentLoad(), si.mem(), si.cpuTemperature()]);
      out.cpu = { load_pct: Math.round(load.currentLoad * 10) / 10, temp_c: typeof temp.main === 'number' && temp.main > 0 ? Math.round(temp.main) : null };
      out.mem = { used_bytes: mem.active, total_bytes: mem.total };
    } catch (err) {
      out.cpu = { error: errorMessage(err).slice(0, 200) };
    }
    const buffer = bufferStatus(ctx.db, ctx.config, ctx.clock);
    const free = options.freeBytes ? options.freeBytes() : freeBytes(ctx.paths.bufferDir);
    // hours of buffer left: how long the free space lasts at the cameras' current rate
    const bytesPerHour = recordingRate(buffer.cameras);
    out.disk = { buffer_bytes: buffer.totalBytes, free_bytes: free, hours_of_buffer_left: free !== null && bytesPerHour > 0 ? Math.round((free / bytesPerHour) * 10) / 10 : null };
    out.cameras = buffer.cameras.map((c) => ({
      id: c.cameraId,
      state: c.state,
      fps: c.fps,
      kbps: c.bitrateKbps,
      last_segment_age_s: c.lastSegmentAgeS === null ? null : Math.round(c.lastSegmentAgeS),
      gaps_24h: c.gaps,
      hours_buffered: Math.round(c.hoursBuffered * 10) / 10,
    }));
    const incidents = new IncidentsRepo(ctx.db);
    out.incidents = { open: incidents.countInStates(['logged', 'waiting', 'extracting', 'analysing', 'sealed', 'sending']), failed: incidents.countInStates(['failed']) };
    const m = models();
    out.models = m.models.map((x) => ({ name: x.name, sha256: x.actualSha256 ?? x.expectedSha256, state: x.state }));
    out.alarms = activeAlarms(ctx, { cameras: buffer.cameras, floor: buffer.policy.minFreeBytes, free, bytesPerHour }, seen);
    return out;
  };
}

/**
 * The alarms of the health document alone, the same as `healthFigures` lists them, read from the small
 * tables only (no segment scan, no machine figures): cheap enough for the uplink to look at every few
 * seconds and send the document as soon as the set changes.
 */
export function healthAlarms(ctx: AppContext, options: HealthOptions = {}): () => HealthAlarmItem[] {
  const seen = new FirstSeen();
  return () => {
    const recorder = recorderStatuses(ctx.db, ctx.config, ctx.clock);
    const gaps = new GapsRepo(ctx.db);
    // by id, as the buffer status lists them: the same alarms in the same order
    const cameras = new CamerasRepo(ctx.db).list().map((c): CameraAlarmView => {
      const st = recorder.statuses.get(c.id);
      const live = recorder.live(st);
      return { cameraId: c.id, state: cameraStateOf(c, st, live), openGap: gaps.openGap(c.id) ?? null, bitrateKbps: live ? st.bitrateKbps : null };
    });
    const free = options.freeBytes ? options.freeBytes() : freeBytes(ctx.paths.bufferDir);
    return activeAlarms(ctx, { cameras, floor: bufferPolicy(ctx.config, ctx.db).minFreeBytes, free, bytesPerHour: recordingRate(cameras) }, seen);
  };
}

/** What the alarms need of a camera (its line of the buffer status). */
type CameraAlarmView = Pick<CameraBufferStatus, 'cameraId' | 'state' | 'openGap' | 'bitrateKbps'>;

/** What the alarms need of the buffer: its cameras, its free-space floor, the disk's free bytes and the cameras' rate. */
interface BufferView {
  cameras: readonly CameraAlarmView[];
  floor: number;
  free: number | null;
  bytesPerHour: number;
}

/** Bytes per hour the cameras record at now (the live ones' bitrates). */
function recordingRate(cameras: readonly Pick<CameraAlarmView, 'bitrateKbps'>[]): number {
  return cameras.reduce((n, c) => n + (c.bitrateKbps ?? 0) * 1000 / 8 * 3600, 0);
}

/** The stored alarms and the computed ones, as the health document lists them. */
function activeAlarms(ctx: AppContext, buffer: BufferView, seen: FirstSeen): HealthAlarmItem[] {
  // stored alarms keep their own words on the box (`buffer status`, the console): the force gets kind, subject and since
  const stored: HealthAlarmItem[] = new AlarmsRepo(ctx.db, ctx.clock).active().map((a) => ({ kind: a.kind, subject: a.subject, since: a.raisedUtcMs }));
  const now = ctx.clock.now();
  const computed = [
    ...camerasDown(ctx, buffer.cameras, now),
    ...clockUnsynced(ctx, now, seen),
    ...outboxGrowing(ctx, now),
    ...keysetExpiring(ctx, now),
    ...diskLow(ctx, buffer, now, seen),
  ].filter((c) => !stored.some((a) => a.kind === c.kind && a.subject === c.subject));
  // the computed ones are few and about the box as a whole: they come first if the list must be cut
  return [...computed, ...stored].slice(0, MAX_HEALTH_ALARMS);
}

function freeBytes(dir: string): number | null {
  try {
    const fs = statfsSync(dir);
    return fs.bavail * fs.bsize;
  } catch {
    return null; // the buffer folder is not there yet
  }
}

/** When each computed condition was first seen in this daemon's life, for the ones whose start nothing records. */
class FirstSeen {
  private readonly since = new Map<string, number>();

  /** The time `key` was first seen holding (now, the first time); forgotten once it no longer holds. */
  holds(key: string, holding: boolean, now: number): number {
    if (!holding) {
      this.since.delete(key);
      return now;
    }
    const at = this.since.get(key) ?? now;
    this.since.set(key, at);
    return at;
  }
}

/**
 * Configured, enabled cameras that have not recorded for CAMERA_DOWN_AFTER_MS. `since` is when the footage
 * stopped (the open gap, else what the recorder last said); the wait counts from the latest of that, this
 * daemon's start and the camera's last change, so a restart or a camera just enabled gets its time to connect.
 * A camera a manager disabled is no alarm.
 */
function camerasDown(ctx: AppContext, bufferCameras: readonly CameraAlarmView[], now: number): HealthAlarmItem[] {
  const cameras = new Map(new CamerasRepo(ctx.db).list().map((c) => [c.id, c]));
  const statuses = new Map(new CameraStatusRepo(ctx.db).all().map((s) => [s.cameraId, s]));
  const boot = new BootsRepo(ctx.db).latest();
  const lifeStart = boot && boot.stoppedUtc === null ? boot.startedUtc : 0;
  return bufferCameras.flatMap((c) => {
    const camera = cameras.get(c.cameraId);
    if (!camera?.enabled || RECORDING.has(c.state)) return [];
    const st = statuses.get(c.cameraId);
    // a status that still says recording is stale (the state reads `unknown`): it stopped when it was last heard of
    const stopped = c.openGap?.startUtcMs ?? (st ? (RECORDING.has(st.state) ? st.updatedUtcMs : st.sinceUtcMs) : Math.max(lifeStart, camera.createdUtcMs));
    if (now - Math.max(stopped, lifeStart, camera.updatedUtcMs) < CAMERA_DOWN_AFTER_MS) return [];
    const minutes = Math.round((now - stopped) / MINUTE);
    return [
      {
        kind: CAMERA_DOWN,
        subject: c.cameraId,
        since: stopped,
        message: `camera ${c.cameraId} has not recorded for ${minutes} min (state ${c.state}, since ${isoUtc(stopped)}): check its power and network, or, if it was taken away, disable it (\`hindsight camera update ${c.cameraId} --disable\`)`,
      },
    ];
  });
}

/** The clock not NTP-synchronised, or off by more than CLOCK_MAX_OFFSET_MS: evidence and audit times cannot be trusted. */
function clockUnsynced(ctx: AppContext, now: number, seen: FirstSeen): HealthAlarmItem[] {
  const c = ctx.clockSync.current();
  const why = !c.synced
    ? c.source === 'unknown'
      ? 'no time service (chrony or systemd-timesyncd) answers'
      : `${c.source} says the clock is not synchronised`
    : c.offset_ms !== null && Math.abs(c.offset_ms) > CLOCK_MAX_OFFSET_MS
      ? `the clock is ${Math.round(c.offset_ms)} ms off (${c.source}; more than ${CLOCK_MAX_OFFSET_MS} ms)`
      : undefined;
  const since = seen.holds(CLOCK_UNSYNCED, why !== undefined, now);
  if (why === undefined) return [];
  return [{ kind: CLOCK_UNSYNCED, subject: 'clock', since, message: `${why}: evidence and audit times cannot be trusted; check the time service and that the box reaches its NTP server` }];
}

/** Evidence waiting longer than OUTBOX_MAX_WAIT_MS, or the outbox past OUTBOX_FULL_SHARE of uplink.outbox_max_bytes; since: the oldest waiting envelope. */
function outboxGrowing(ctx: AppContext, now: number): HealthAlarmItem[] {
  const o = new OutboxRepo(ctx.db).pendingSummary();
  if (o.oldestCreatedUtc === null) return [];
  const max = ctx.config.uplink.outbox_max_bytes;
  const waitedMs = now - o.oldestCreatedUtc;
  if (waitedMs <= OUTBOX_MAX_WAIT_MS && o.bytes <= OUTBOX_FULL_SHARE * max) return [];
  const pct = Math.round((o.bytes / max) * 100);
  return [
    {
      kind: OUTBOX_GROWING,
      subject: 'outbox',
      since: o.oldestCreatedUtc,
      message: `${o.count} evidence envelope(s) undelivered (${(o.bytes / 1e6).toFixed(1)} MB, ${pct} % of uplink.outbox_max_bytes), the oldest for ${(waitedMs / HOUR).toFixed(1)} h; new evidence is refused when it is full: check the link with \`hindsight uplink status\``,
    },
  ];
}

/**
 * An enrolled box whose installed force key set has no recipient key valid for more than KEYSET_WARN_MS more
 * (a key that starts later does not count: the box cannot seal to it yet). Subject: the key set's seq; since:
 * when its last valid key came within KEYSET_WARN_MS of its end.
 */
function keysetExpiring(ctx: AppContext, now: number): HealthAlarmItem[] {
  if (!isEnrolled(ctx.paths.stateDir)) return [];
  const set = new KeySetStore(ctx.db).current();
  if (!set) return [];
  const body = set.keyset;
  const valid = validRecipients(body, now);
  const lastEnd = Math.max(...(valid.length ? valid : body.recipients.filter((r) => !body.revoked?.includes(r.kid))).map((r) => r.not_after));
  if (valid.length && lastEnd - now > KEYSET_WARN_MS) return [];
  const since = Number.isFinite(lastEnd) ? Math.max(0, lastEnd - KEYSET_WARN_MS) : now;
  const fix = 'the force must rotate its recipient key (`hindsight-force rotate`) and send the new key set (`hindsight-force fleet cmd <box> set_key_set`)';
  const message = valid.length
    ? `the force's key set ${body.seq}: its last recipient key ends ${isoUtc(lastEnd)} (in ${Math.ceil((lastEnd - now) / DAY)} days); after that this box cannot seal evidence. ${fix}`
    : `the force's key set ${body.seq} has no valid recipient key${Number.isFinite(lastEnd) ? ` (the last ended ${isoUtc(lastEnd)})` : ''}: this box cannot seal evidence. ${fix}`;
  return [{ kind: KEYSET_EXPIRING, subject: String(body.seq), since, message }];
}

/**
 * The health document's own free-space figure under buffer.min_free_gb by more than the cameras write in
 * DISK_LOW_RUNS retention runs (retention's stored alarm only comes once only locked footage is left).
 * Same kind and subject as retention's, so the force sees one disk alarm.
 */
function diskLow(ctx: AppContext, { floor, free, bytesPerHour }: BufferView, now: number, seen: FirstSeen): HealthAlarmItem[] {
  const slack = (bytesPerHour / 3600) * ctx.config.buffer.retention_interval_s * DISK_LOW_RUNS;
  const low = free !== null && free < floor - slack;
  const since = seen.holds(DISK_LOW, low, now);
  if (!low) return [];
  return [
    {
      kind: DISK_LOW,
      subject: 'buffer',
      since,
      message: `the buffer disk has ${(free / GB).toFixed(2)} GB free, under the ${(floor / GB).toFixed(2)} GB floor (buffer.min_free_gb), and retention is not freeing it: something else fills the disk, or the footage is locked`,
    },
  ];
}
