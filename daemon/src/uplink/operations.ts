import path from 'node:path';
import { daemonVersion } from '../config/version.js';
import { inputBool, inputObject, inputString, type Operation, type OperationContext } from '../control/operations.js';
import { buildPackage, packageInputFromFolder } from '../evidence/builder.js';
import { HindsightError, UsageError } from '../util/errors.js';
import { assertSafeId, newId } from '../util/ids.js';
import { installBundle, isEnrolled, KeySetStore, loadEnrollment, parseBundle, type InstallResult } from './enrollment.js';
import { createSealer } from './sealer.js';
import { createOutbox } from './service.js';

/**
 * Enrollment, key sets and hand-made evidence as operations: the running daemon applies them (it is the
 * single writer, and it connects to the force at once); only a stopped daemon's database is changed by the
 * CLI itself. The CLI reads the files (they may be readable only by the operator) and sends their content.
 */

function notEnrolled(): HindsightError {
  return new HindsightError('this box is not enrolled', { code: 'not_enrolled', hint: 'run: hindsight enroll BUNDLE' });
}

/** A JSON document sent as text (the bundle or key set file's content). */
function inputDocument(o: Record<string, unknown>, key: string): string {
  const text = inputString(o, key, true)!;
  if (text.length > 1024 * 1024) throw new UsageError(`${key} is larger than 1 MiB: not a file from the force`);
  return text;
}

export interface Enrolled extends InstallResult {
  broker: string;
}

export const uplinkEnroll: Operation<{ bundle: string; label?: string; resetForceRoot?: boolean }, Enrolled> = {
  name: 'uplink.enroll',
  run(ctx, input) {
    const o = inputObject(input);
    const bundle = parseBundle(inputDocument(o, 'bundle'), inputString(o, 'label', false) ?? 'the bundle');
    const r = installBundle(bundle, {
      stateDir: ctx.paths.stateDir,
      deviceId: ctx.config.device.id,
      db: ctx.db,
      audit: ctx.audit,
      clock: ctx.clock,
      resetForceRoot: inputBool(o, 'resetForceRoot') ?? false,
      actor: ctx.actor,
    });
    ctx.notify('enrolled');
    return { ...r, broker: bundle.mqtt.url };
  },
};

export interface KeySetInstalled {
  seq: number;
  recipients: string[];
}

export const uplinkInstallKeySet: Operation<{ keyset: string; label?: string }, KeySetInstalled> = {
  name: 'uplink.install-keyset',
  run(ctx, input) {
    const o = inputObject(input);
    const text = inputDocument(o, 'keyset');
    if (!isEnrolled(ctx.paths.stateDir)) throw notEnrolled();
    let signed: unknown;
    try {
      signed = JSON.parse(text);
    } catch (err) {
      throw new HindsightError(`${inputString(o, 'label', false) ?? 'the key set'} is not JSON: ${(err as Error).message}`, { code: 'keyset_unreadable', hint: 'give the keyset.json file the force wrote' });
    }
    const root = loadEnrollment(ctx.paths.stateDir).force_root.pk;
    const ks = new KeySetStore(ctx.db).install(signed, root, ctx.clock.now(), ctx.audit, ctx.actor.id);
    ctx.notify('enrolled');
    return { seq: ks.keyset.seq, recipients: ks.keyset.recipients.map((r) => r.kid) };
  },
};

export interface SealInput {
  /** Absolute path of the folder with clips/, crops/<subject>/*.jpg, embeddings/<subject>.f32, context/. */
  from: string;
  incident?: string;
  windowStartMs?: number;
  windowEndMs?: number;
  embeddingModel?: string;
}

export interface Sealed {
  incidentId: string;
  envelopeId: string;
  bytes: number;
  chunks: number;
  recipients: string[];
}

function optionalNumber(o: Record<string, unknown>, key: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new UsageError(`${key} must be a number`);
  return v;
}

/** Seal a folder of evidence to the force and queue it (an operator's and the tests' way in). */
export const evidenceSeal: Operation<SealInput, Sealed> = {
  name: 'evidence.seal',
  async run(ctx: OperationContext, input) {
    const o = inputObject(input);
    const from = inputString(o, 'from', true)!;
    if (!path.isAbsolute(from)) throw new UsageError('from must be an absolute path');
    if (!isEnrolled(ctx.paths.stateDir)) throw notEnrolled();
    const incidentId = assertSafeId(inputString(o, 'incident', false) ?? newId(), 'incident id');
    const now = ctx.clock.now();
    const start = optionalNumber(o, 'windowStartMs');
    const end = optionalNumber(o, 'windowEndMs');
    if ((start === undefined) !== (end === undefined)) throw new UsageError('give both ends of the window, or neither');
    if (start !== undefined && end !== undefined && end <= start) throw new UsageError('the window must start before it ends');
    const window = start !== undefined && end !== undefined ? { start, end } : { start: now - 90_000, end: now };
    const outbox = createOutbox(ctx);
    const sealer = createSealer(ctx, outbox);
    if (!sealer) throw notEnrolled();
    const pkg = packageInputFromFolder(from, {
      incidentId,
      deviceId: ctx.config.device.id,
      store: ctx.config.device.store,
      window,
      embeddingModel: inputString(o, 'embeddingModel', false) ?? 'unknown',
      models: [],
      tools: { daemon: daemonVersion() },
      clock: ctx.clockSync.current(),
      now,
    });
    const built = buildPackage(pkg, sealer.deviceKey);
    const sealed = await sealer.seal(built.plaintext, incidentId);
    ctx.db.transaction(() => outbox.enqueue(sealed, { workingFiles: built.workingFiles }))();
    ctx.notify('queued');
    const m = sealed.manifest;
    return { incidentId, envelopeId: m.header.envelope_id, bytes: m.header.pt_len, chunks: m.n_chunks, recipients: m.header.recipients };
  },
};

export const UPLINK_OPERATIONS: readonly Operation[] = [uplinkEnroll, uplinkInstallKeySet, evidenceSeal];
