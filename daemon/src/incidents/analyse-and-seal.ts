import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { AuditActor, AuditLog } from '../audit/log.js';
import type { Config } from '../config/schema.js';
import type { IncidentsRepo } from '../db/repos/incidents.js';
import { buildPackage, type PackageInput, type SubjectInput } from '../evidence/builder.js';
import type { FacePipelineCapability } from '../models/verify.js';
import type { Clock } from '../util/clock.js';
import type { ClockState } from '../util/clock-sync.js';
import { HindsightError } from '../util/errors.js';
import { analyseIncident } from '../vision/incident.js';
import { embeddingModelName } from '../vision/models.js';
import { visionOptions } from '../vision/options.js';
import type { AnalysisResult, Subject } from '../vision/result.js';
import type { StageTimings } from '../vision/timings.js';
import type { EvidencePort } from './evidence-port.js';
import type { ClipDetail, ExtractionManifest } from './manifest.js';
import type { Incident } from './model.js';
import { incidentDir as incidentFolder } from './paths.js';
import type { PipelineObserver } from './observer.js';
import type { IncidentStateMachine } from './state.js';
import type { IncidentStep } from './step.js';

const SYSTEM: AuditActor = { type: 'system', id: 'evidence' };
const PROGRESS_EVERY_MS = 1000;

export interface AnalyseAndSealDeps {
  repo: IncidentsRepo;
  machine: IncidentStateMachine;
  audit: AuditLog;
  log: Logger;
  clock: Clock;
  clockState: () => ClockState;
  /** Device id and store (in the package), vision settings. */
  config: Config;
  evidenceDir: string;
  modelsDir: string;
  /** The uplink's side: the signing key, sealing and queueing. */
  evidence: EvidencePort;
  faces: () => FacePipelineCapability;
  /** Told each finished face analysis's stage times (the metrics). */
  observer?: PipelineObserver;
}

/**
 * The `analysing` step of an incident: find the faces in its master clips (vision/), build the evidence
 * package (the extraction manifest, the best crops and context frames, one embedding per subject, the
 * analysis record), hand its bytes to the uplink to seal to the force, and queue them — the `sealed`
 * transition and the outbox row commit together. This is the only place on the box that runs vision/:
 * faces leave this step only inside a sealed package. The face analysis is kept on disk, so a crash or a
 * failed seal (box not enrolled yet) does not redo it. Plaintext crops and embeddings are working files,
 * deleted once the force confirms receipt.
 */
export class AnalyseAndSealStep implements IncidentStep {
  constructor(private readonly d: AnalyseAndSealDeps) {}

  async run(incident: Incident, signal: AbortSignal): Promise<void> {
    const incidentDir = incidentFolder(this.d.evidenceDir, incident.id);
    const facesDir = path.join(incidentDir, 'faces');
    const result = readFinishedAnalysis(facesDir) ?? (await this.findFaces(incident, incidentDir, facesDir, signal));
    if (signal.aborted || this.d.repo.get(incident.id)?.state !== 'analysing') return;

    const key = this.d.evidence.signingKey();
    if (!key) {
      throw new HindsightError('cannot seal the evidence: this box is not enrolled with the force', {
        code: 'not_enrolled',
        hint: 'enroll it (`hindsight enroll BUNDLE`); the incident resumes by itself once enrolled, its faces are kept',
      });
    }
    const built = buildPackage(this.packageInput(incident, incidentDir, facesDir, result), key);
    const sealed = await this.d.evidence.seal(built.plaintext, incident.id);
    const working = [...new Set([...built.workingFiles, ...filesUnder(facesDir)])];
    this.d.machine.transition(incident.id, 'sealed', {
      actor: SYSTEM,
      sha256s: [sealed.bodySha256],
      detail: { envelope: sealed.envelopeId, subjects: result.subjects.length, bytes: built.plaintext.length },
      alsoInTransaction: () => sealed.enqueue(working),
    });
    this.d.evidence.queued(sealed);
  }

  private async findFaces(incident: Incident, incidentDir: string, facesDir: string, signal: AbortSignal): Promise<AnalysisResult> {
    const { repo, log } = this.d;
    const capability = this.d.faces();
    if (!capability.available) {
      throw new HindsightError(`face pipeline unavailable: ${capability.reason ?? 'unknown'}`, {
        code: 'faces_unavailable',
        hint: '`hindsight doctor` says what is missing; `hindsight models fetch` restores the models. The master clips are kept.',
      });
    }
    const clips = repo
      .cameras(incident.id)
      .filter((c) => c.clipState === 'done' && c.clipPath && c.clipStartMs !== null)
      .map((c) => {
        // a clip cut across a recording gap jumps in time: faces after the gap are dated through its pieces
        const detail = repo.clipDetail(incident.id, c.cameraId) as ClipDetail | null;
        const pieces = detail?.pieces.map((p) => ({ clipOffsetMs: p.clipOffsetMs, utcStartMs: p.utcStartMs }));
        const damaged = detail?.damaged?.length ? { damaged: detail.damaged } : {};
        return { cameraId: c.cameraId, file: path.join(incidentDir, c.clipPath!), clipStartUtcMs: c.clipStartMs!, ...(pieces?.length ? { pieces } : {}), ...damaged };
      });
    rmSync(facesDir, { recursive: true, force: true }); // an analysis cut short is started again from scratch
    let last = 0;
    const result = await analyseIncident({
      clips,
      outDir: facesDir,
      options: visionOptions(this.d.config, this.d.modelsDir),
      signal,
      log: log.child({ service: 'vision', incident: incident.id }),
      clock: this.d.clock,
      onProgress: (p) => {
        const now = Date.now();
        if (now - last < PROGRESS_EVERY_MS && p.framesDone < p.framesTotal) return;
        last = now;
        repo.setProgress(incident.id, { stage: 'faces', frames_done: p.framesDone, frames_total: p.framesTotal });
      },
    });
    this.d.observer?.facesAnalysed(result.wall_ms / 1000, stageSeconds(result.timings));
    // a damaged clip is still analysed as far as it decodes; whoever reads the log or the result is told
    for (const c of result.clips) if (c.damaged) log.warn({ incident: incident.id, camera: c.camera_id }, `clip of camera ${c.camera_id}: ${c.damaged}`);
    const crops = result.subjects.reduce((n, s) => n + s.crops.length, 0);
    const frames = result.clips.reduce((n, c) => n + c.frames_analysed, 0);
    // what the incident's page shows once the analysis is done
    repo.setProgress(incident.id, { stage: 'faces_done', frames_done: frames, frames_total: frames, subjects: result.subjects.length, crops });
    // Embedding faces is "combination" of biometric data: on the record, with what and how many.
    this.d.audit.append({
      actor: SYSTEM,
      action: 'evidence.faces_analysed',
      objectIds: [incident.id],
      sha256s: result.models.map((m) => m.sha256),
      detail: { mode: result.mode, subjects: result.subjects.length, crops, frames, clip_errors: result.clips.filter((c) => c.error).length, damaged_clips: result.clips.filter((c) => c.damaged).length },
    });
    return result;
  }

  private packageInput(incident: Incident, incidentDir: string, facesDir: string, result: AnalysisResult): PackageInput {
    const { config, repo } = this.d;
    const cameras = repo.cameras(incident.id);
    const manifestFile = path.join(incidentDir, 'manifest.json');
    const extraction = JSON.parse(readFileSync(manifestFile, 'utf8')) as ExtractionManifest;
    const subjects: SubjectInput[] = result.subjects.map((s) => ({
      id: s.id,
      crops: s.crops.map((c) => ({ path: path.join(facesDir, c.crop.path), camera: c.camera_id })),
      ...(result.mode === 'embeddings' ? { embedding: subjectTemplate(s) } : {}),
      firstSeen: Date.parse(s.first_utc),
      lastSeen: Date.parse(s.last_utc),
    }));
    return {
      incidentId: incident.id,
      deviceId: config.device.id,
      store: config.device.store,
      window: { start: incident.windowFromMs, end: incident.windowToMs },
      cameras: cameras.map((c) => {
        const entry = extraction.cameras.find((e) => e.camera === c.cameraId);
        return { id: c.cameraId, coverage: c.coverage, gaps: (entry?.gaps ?? []).map((g) => ({ start: Date.parse(g.from), end: Date.parse(g.to) })) };
      }),
      clips: cameras.filter((c) => c.clipState === 'done' && c.clipPath).map((c) => ({ camera: c.cameraId, path: path.join(incidentDir, c.clipPath!) })),
      subjects,
      contextFrames: result.subjects.flatMap((s) => (s.context ? [path.join(facesDir, s.context.path)] : [])),
      documents: [
        { name: 'extraction.json', path: manifestFile, mediaType: 'application/json', working: false },
        { name: 'analysis.json', path: path.join(facesDir, 'result.json'), mediaType: 'application/json', working: true },
      ],
      embeddingModel: result.mode === 'embeddings' ? embeddingModelName(result.models) : undefined,
      models: result.models.map((m) => ({ name: `${m.role}:${m.file}`, sha256: m.sha256 })),
      tools: { ...extraction.tools },
      clock: this.d.clockState(),
      now: this.d.clock.now(),
    };
  }
}

/** The analysis's stage times in seconds, by stage name (`detect_ms` -> `detect`). */
function stageSeconds(timings: StageTimings): Record<string, number> {
  return Object.fromEntries(Object.entries(timings).map(([k, ms]) => [k.replace(/_ms$/, ''), ms / 1000]));
}

/** A subject's embedding for search: the normalised mean of its chosen crops' embeddings. */
export function subjectTemplate(s: Subject): Float32Array {
  const rows = s.crops.flatMap((c) => (c.embedding ? [c.embedding] : []));
  if (rows.length === 0) throw new HindsightError(`subject ${s.id} has no embedding`, { code: 'no_embedding' });
  const dim = rows[0]!.length;
  const mean = new Float32Array(dim);
  for (const r of rows) for (let i = 0; i < dim; i++) mean[i]! += r[i]!;
  const norm = Math.hypot(...mean) || 1;
  for (let i = 0; i < dim; i++) mean[i]! /= norm;
  return mean;
}

/** The analysis of an earlier run, if it finished (result.json present and every crop file there). */
function readFinishedAnalysis(facesDir: string): AnalysisResult | undefined {
  const file = path.join(facesDir, 'result.json');
  if (!existsSync(file)) return undefined;
  try {
    const result = JSON.parse(readFileSync(file, 'utf8')) as AnalysisResult;
    const complete = result.subjects.every((s) => s.crops.every((c) => existsSync(path.join(facesDir, c.crop.path))));
    return complete ? result : undefined;
  } catch {
    return undefined;
  }
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
}
