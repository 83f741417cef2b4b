import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AuditActor } from '../audit/log.js';
import { canonicalJson } from '../util/canonical.js';
import { runCommand } from '../util/child.js';
import type { ClockState } from '../util/clock-sync.js';
import { sha256 } from '../util/hash.js';
import { assertSafeId } from '../util/ids.js';
import { forEachLimited } from '../util/parallel.js';
import type { BufferIndex } from './buffer-port.js';
import { extractClip } from './clip-cut.js';
import { IncidentStepError } from './failure.js';
import { buildManifest, type ClipDetail } from './manifest.js';
import type { Incident } from './model.js';
import { incidentDir } from './paths.js';
import type { IncidentCore } from './state.js';

const SYSTEM: AuditActor = { type: 'system', id: 'incident-worker' };

/** One step of an incident: moves it on through the state machine, or throws (the worker records why). */
export interface IncidentStep {
  run(incident: Incident, signal: AbortSignal): Promise<void>;
}

export interface ExtractionDeps extends IncidentCore {
  buffer: BufferIndex;
  evidenceDir: string;
  version: string;
  clockState: () => ClockState;
}

/**
 * The `extracting` step: cut one native master clip per camera from the buffer, write the extraction
 * manifest, and move the incident to `analysing`. A camera whose clip is cut is not cut again after a
 * restart. A window with no footage on any camera fails for a person, saying why each camera has none.
 */
export class ExtractionStep implements IncidentStep {
  private ffmpegVersion: Promise<string> | undefined;

  constructor(private readonly d: ExtractionDeps) {}

  /** First line of `ffmpeg -version`, for the manifest (asked once). */
  private toolVersion(): Promise<string> {
    this.ffmpegVersion ??= runCommand(this.d.config.tools.ffmpeg, ['-version'], { timeoutMs: 10_000 })
      .then((r) => r.stdout.toString('utf8').split('\n')[0]?.trim() || 'unknown')
      .catch(() => 'unknown');
    return this.ffmpegVersion;
  }

  async run(i: Incident, signal: AbortSignal): Promise<void> {
    const { config, repo } = this.d;
    const dir = incidentDir(this.d.evidenceDir, i.id);
    const masterDir = path.join(dir, 'master');
    await mkdir(masterDir, { recursive: true, mode: 0o750 });
    // A crash mid-cut leaves .partial/.ffconcat files beside the clips: remove them, cut again.
    for (const f of await readdir(masterDir)) if (f.endsWith('.partial') || f.endsWith('.ffconcat')) await rm(path.join(masterDir, f), { force: true });

    const stillExtracting = (): boolean => !signal.aborted && repo.get(i.id)?.state === 'extracting';
    // the cameras are cut side by side (the keyframe decode that finds damaged footage is most of a cut's time)
    await forEachLimited(repo.cameras(i.id), config.incidents.extract_cameras_at_once, async (cam) => {
      if (!stillExtracting()) return; // stopping, or cancelled meanwhile
      if (cam.clipState === 'done' && cam.clipPath && existsSync(path.join(dir, cam.clipPath))) return;
      const file = `${assertSafeId(cam.cameraId, 'camera id')}.ts`;
      const segments = this.d.buffer.segmentsOverlapping(cam.cameraId, i.windowFromMs, i.windowToMs);
      const clip = await extractClip({
        segments,
        fromMs: i.windowFromMs,
        toMs: i.windowToMs,
        outFile: path.join(masterDir, file),
        ffmpeg: config.tools.ffmpeg,
        ffprobe: config.tools.ffprobe,
        signal,
      });
      this.d.db.transaction(() => {
        if (!clip) {
          const why = this.d.buffer.whyNoFootage(cam.cameraId, i.windowFromMs, i.windowToMs);
          repo.updateClip(i.id, cam.cameraId, { clipState: 'empty', coverage: 0, error: why });
          return;
        }
        const detail: ClipDetail = { gaps: clip.gaps, pieces: clip.pieces, damaged: clip.damaged, frames: clip.frames, lastFrameMs: clip.lastFrameMs };
        repo.updateClip(i.id, cam.cameraId, {
          clipState: 'done',
          clipPath: `master/${file}`,
          clipSha256: clip.sha256,
          clipBytes: clip.bytes,
          clipStartMs: clip.clipStartMs,
          clipEndMs: clip.clipEndMs,
          coverage: clip.coverage,
          detail,
        });
        this.d.audit.append({
          actor: SYSTEM,
          action: 'evidence.clip_extracted',
          objectIds: [i.id, cam.cameraId],
          sha256s: [clip.sha256],
          detail: {
            bytes: clip.bytes,
            frames: clip.frames,
            coverage: Number(clip.coverage.toFixed(4)),
            gaps: clip.gaps.length,
            // footage that is there but does not decode: said here, left out of the coverage
            ...(clip.damaged.length ? { damaged_ms: clip.damaged.reduce((n, d) => n + d.endMs - d.startMs, 0) } : {}),
          },
        });
      })();
    });
    if (!stillExtracting()) return;

    const cameras = repo.cameras(i.id);
    if (cameras.every((c) => c.clipState === 'empty')) {
      throw new IncidentStepError(`no footage: ${cameras.map((c) => c.error ?? `camera ${c.cameraId} recorded nothing in that window`).join('; ')}`, 'person', {
        code: 'no_footage',
        hint: 'nothing can be cut for this window; cancel the incident (`hindsight incident cancel ID`), or retry it if footage was restored',
      });
    }
    const manifest = buildManifest({
      incident: i,
      cameras: cameras.map((row) => ({ row, detail: repo.clipDetail(i.id, row.cameraId) as ClipDetail | null })),
      device: config.device.id,
      store: config.device.store,
      ffmpegVersion: await this.toolVersion(),
      version: this.d.version,
      clock: this.d.clockState(),
      nowMs: this.d.clock.now(),
    });
    const text = canonicalJson(manifest);
    await writeFile(path.join(dir, 'manifest.json'), text + '\n');
    const manifestSha = sha256(text + '\n');
    this.d.machine.transition(i.id, 'analysing', {
      actor: SYSTEM,
      sha256s: [...cameras.flatMap((c) => (c.clipSha256 ? [c.clipSha256] : [])), manifestSha],
      detail: { cameras: cameras.length, coverage: cameras.map((c) => Number((c.coverage ?? 0).toFixed(4))) },
      alsoInTransaction: () => repo.setManifest(i.id, manifest),
    });
  }
}
