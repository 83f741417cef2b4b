import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { AuditActor } from '../audit/log.js';
import type { AppContext } from '../kernel/context.js';
import type { FacePipelineCapability } from '../models/verify.js';
import type { ClipDetail, ExtractionManifest } from '../incidents/manifest.js';
import type { Incident } from '../incidents/model.js';
import type { IncidentStateMachine } from '../incidents/state.js';
import type { IncidentStep } from '../incidents/extracting.js';
import { incidentDir as incidentFolder } from '../incidents/paths.js';
import type { IncidentsRepo } from '../db/repos/incidents.js';
import type { Outbox } from '../uplink/outbox.js';
import type { EvidenceSealer } from '../uplink/sealer.js';
import { HindsightError } from '../util/errors.js';
import { analyseIncident } from '../vision/incident.js';
import { embeddingModelName } from '../vision/models.js';
import { visionOptions } from '../vision/options.js';
import type { AnalysisResult, Subject } from '../vision/result.js';
import type { PackageInput, SubjectInput } from './builder.js';

const SYSTEM: AuditActor = { type: 'system', id: 'evidence' };
const PROGRESS_EVERY_MS = 1000;

export interface EvidenceStageDeps {
  ctx: AppContext;
  repo: IncidentsRepo;
  machine: IncidentStateMachine;
  outbox: Outbox;
  /** The sealer exists once the box is enrolled with the force. */
  sealer: () => EvidenceSealer | undefined;
  capability: () => FacePipelineCapability;
}

/**
 * The `analysing` step of an incident: find the faces in its master clips (vision/), build the evidence
 * package (the extraction manifest, the best crops and context frames, one embedding per subject, the
 * analysis record), seal it to the force, and queue it — the `sealed` transition and the outbox row commit
 * together. The face analysis is kept on disk, so a crash or a failed seal (box not enrolled yet) does not
 * redo it. Plaintext crops and embeddings are working files, deleted once the force confirms receipt.
 */
export class EvidenceStage implements IncidentStep {
  constructor(private readonly d: EvidenceStageDeps) {}

  async run(incident: Incident, signal: AbortSignal): Promise<void> {
    const { ctx } = this.d;
    const incidentDir = incidentFolder(ctx.paths.evidenceDir, incident.id);
    const facesDir = path.join(incidentDir, 'faces');
    const result = readFinishedAnalysis(facesDir) ?? (await this.findFaces(incident, incidentDir, facesDir, signal));
    if (signal.aborted || this.d.repo.get(incident.id)?.state !== 'analysing') return;

    const sealer = this.d.sealer();
    if (!sealer) {
      throw new HindsightError('cannot seal the evidence: this box is not enrolled with the force', {
        code: 'not_enrolled',
        hint: 'enroll it (`hindsight enroll BUNDLE`); the incident resumes by itself once enrolled, its faces are kept',
      });
    }
    const sealed = await sealer.sealPackage(this.packageInput(incident, incidentDir, facesDir, result));
    const working = [...new Set([...sealed.workingFiles, ...filesUnder(facesDir)])];
    this.d.machine.transition(incident.id, 'sealed', {
      actor: SYSTEM,
      sha256s: [sealed.sealed.manifest.body_sha256],
      detail: { envelope: sealed.sealed.manifest.header.envelope_id, subjects: result.subjects.length, bytes: sealed.plaintext.length },
      alsoInTransaction: () => this.d.outbox.enqueue(sealed.sealed, { workingFiles: working }),
    });
    ctx.bus.emit('envelope.queued', { envelopeId: sealed.sealed.manifest.header.envelope_id, incidentId: incident.id });
  }

  private async findFaces(incident: Incident, incidentDir: string, facesDir: string, signal: AbortSignal): Promise<AnalysisResult> {
    const { ctx, repo } = this.d;
    const capability = this.d.capability();
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
      options: visionOptions(ctx.config, ctx.paths.modelsDir),
      signal,
      log: ctx.log.child({ service: 'vision', incident: incident.id }),
      clock: ctx.clock,
      onProgress: (p) => {
        const now = Date.now();
        if (now - last < PROGRESS_EVERY_MS && p.framesDone < p.framesTotal) return;
        last = now;
        repo.setProgress(incident.id, { stage: 'faces', frames_done: p.framesDone, frames_total: p.framesTotal });
      },
    });
    // a damaged clip is still analysed as far as it decodes; whoever reads the log or the result is told
    for (const c of result.clips) if (c.damaged) ctx.log.warn({ incident: incident.id, camera: c.camera_id }, `clip of camera ${c.camera_id}: ${c.damaged}`);
    const crops = result.subjects.reduce((n, s) => n + s.crops.length, 0);
    // Embedding faces is "combination" of biometric data: on the record, with what and how many.
    ctx.audit.append({
      actor: SYSTEM,
      action: 'evidence.faces_analysed',
      objectIds: [incident.id],
      sha256s: result.models.map((m) => m.sha256),
      detail: { mode: result.mode, subjects: result.subjects.length, crops, frames: result.clips.reduce((n, c) => n + c.frames_analysed, 0), clip_errors: result.clips.filter((c) => c.error).length, damaged_clips: result.clips.filter((c) => c.damaged).length },
    });
    return result;
  }

  private packageInput(incident: Incident, incidentDir: string, facesDir: string, result: AnalysisResult): PackageInput {
    const { ctx, repo } = this.d;
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
      deviceId: ctx.config.device.id,
      store: ctx.config.device.store,
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
      clock: ctx.clockSync.current(),
      now: ctx.clock.now(),
    };
  }
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
