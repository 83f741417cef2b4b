import type { ClockState } from '../util/clock-sync.js';
import type { Incident, IncidentCamera } from './model.js';

/**
 * The extraction manifest of an incident: what was asked for, what was cut, how well it covers the
 * window, and with which tools. It goes inside the sealed evidence package (signed there) and stays
 * beside the master clips. Times are ISO 8601 UTC; hashes are SHA-256 hex of the files.
 */
export interface ExtractionManifest {
  schema: 'hindsight-extraction/1';
  incident: string;
  device: string;
  store: string;
  reason: string;
  logged_at: string;
  incident_at: string;
  logged_by: { type: string; id: string };
  requested_window: { from: string; to: string };
  cameras: {
    camera: string;
    /**
     * Measured from the written clip: `start` is its first frame (the keyframe at or before the window
     * start), `last_frame` its last frame and `end` that frame's end; `frames` how many it holds.
     */
    clip: { file: string; sha256: string; bytes: number; start: string; end: string; last_frame?: string; frames?: number } | null;
    /** Fraction of the window covered by footage in the clip that decodes. */
    coverage: number;
    /** Stretches of the window with no footage (camera outages, footage outside the buffer). */
    gaps: { from: string; to: string }[];
    /** Stretches of the clip whose video does not decode (present but damaged; not counted in coverage). */
    damaged?: { from: string; to: string }[];
    pieces: { clip_offset_ms: number; from: string; to: string }[];
    note?: string;
  }[];
  tools: { ffmpeg: string; hindsight: string };
  clock: ClockState;
  created_at: string;
}

export interface ClipDetail {
  gaps: { startMs: number; endMs: number }[];
  pieces: { clipOffsetMs: number; utcStartMs: number; utcEndMs: number }[];
  /** Absent in clips cut before the cut was measured from the clip. */
  damaged?: { startMs: number; endMs: number }[];
  frames?: number;
  lastFrameMs?: number;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function buildManifest(input: {
  incident: Incident;
  cameras: { row: IncidentCamera; detail: ClipDetail | null }[];
  device: string;
  store: string;
  ffmpegVersion: string;
  version: string;
  clock: ClockState;
  nowMs: number;
}): ExtractionManifest {
  const { incident } = input;
  return {
    schema: 'hindsight-extraction/1',
    incident: incident.id,
    device: input.device,
    store: input.store,
    reason: incident.reason,
    logged_at: iso(incident.loggedAtMs),
    incident_at: iso(incident.incidentAtMs),
    logged_by: { type: incident.loggedBy.type, id: incident.loggedBy.id },
    requested_window: { from: iso(incident.windowFromMs), to: iso(incident.windowToMs) },
    cameras: input.cameras.map(({ row, detail }) => ({
      camera: row.cameraId,
      clip:
        row.clipState === 'done' && row.clipPath && row.clipSha256
          ? {
              file: row.clipPath,
              sha256: row.clipSha256,
              bytes: row.clipBytes ?? 0,
              start: iso(row.clipStartMs ?? 0),
              end: iso(row.clipEndMs ?? 0),
              ...(detail?.lastFrameMs !== undefined ? { last_frame: iso(detail.lastFrameMs) } : {}),
              ...(detail?.frames !== undefined ? { frames: detail.frames } : {}),
            }
          : null,
      coverage: row.coverage ?? 0,
      gaps: (detail?.gaps ?? (row.clipState === 'empty' ? [{ startMs: incident.windowFromMs, endMs: incident.windowToMs }] : [])).map((g) => ({ from: iso(g.startMs), to: iso(g.endMs) })),
      ...(detail?.damaged?.length ? { damaged: detail.damaged.map((d) => ({ from: iso(d.startMs), to: iso(d.endMs) })) } : {}),
      pieces: (detail?.pieces ?? []).map((p) => ({ clip_offset_ms: p.clipOffsetMs, from: iso(p.utcStartMs), to: iso(p.utcEndMs) })),
      ...(row.clipState === 'empty' ? { note: 'no footage of this camera in the window (outside the buffer or camera down)' } : {}),
    })),
    tools: { ffmpeg: input.ffmpegVersion, hindsight: input.version },
    clock: input.clock,
    created_at: iso(input.nowMs),
  };
}
