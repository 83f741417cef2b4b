import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inputBool, inputObject, inputString, type Operation, type OperationContext } from '../control/operations.js';
import type { Camera, Transport } from '../db/repos/cameras.js';
import { HindsightError, UsageError } from '../util/errors.js';
import type { CameraCredentials } from './credentials.js';
import { probeCamera, snapshotCamera, type ProbeResult } from './probe.js';
import { CameraCatalog, type CameraInput, type CameraPatch } from './catalog.js';

/** Camera changes as operations: run by the daemon when it runs (the CLI sends them), else by the CLI. */
function catalog(ctx: OperationContext): CameraCatalog {
  return CameraCatalog.fromConfig(ctx.config, ctx.paths.stateDir, ctx);
}

function credentialsOf(o: Record<string, unknown>): CameraCredentials | null | undefined {
  const c = o.credentials;
  if (c === undefined) return undefined;
  if (c === null) return null;
  const r = inputObject(c);
  return { username: inputString(r, 'username', true)!, password: inputString(r, 'password', true)! };
}

export interface CameraAdded {
  camera: Camera;
  /** False when no daemon runs: the camera is stored and recorded once the daemon starts. */
  recording: boolean;
}

export const cameraAdd: Operation<CameraInput, CameraAdded> = {
  name: 'camera.add',
  async run(ctx, input) {
    const o = inputObject(input);
    const credentials = credentialsOf(o) ?? undefined;
    const camera = await catalog(ctx).add(
      {
        id: inputString(o, 'id', true)!,
        name: inputString(o, 'name', true)!,
        url: inputString(o, 'url', true)!,
        transport: inputString(o, 'transport', false) as Transport | undefined,
        zone: inputString(o, 'zone', false),
        enabled: inputBool(o, 'enabled'),
        credentials,
      },
      ctx.actor,
    );
    return { camera, recording: ctx.inDaemon && camera.enabled };
  },
};

export const cameraUpdate: Operation<{ id: string; patch: CameraPatch }, Camera> = {
  name: 'camera.update',
  run(ctx, input) {
    const o = inputObject(input);
    const p = inputObject(o.patch ?? {});
    const patch: CameraPatch = {
      name: inputString(p, 'name', false),
      url: inputString(p, 'url', false),
      transport: inputString(p, 'transport', false) as Transport | undefined,
      zone: inputString(p, 'zone', false),
      enabled: inputBool(p, 'enabled'),
    };
    const credentials = credentialsOf(p);
    if (credentials !== undefined) patch.credentials = credentials;
    return catalog(ctx).update(inputString(o, 'id', true)!, patch, ctx.actor);
  },
};

export const cameraRemove: Operation<{ id: string }, Camera> = {
  name: 'camera.remove',
  run(ctx, input) {
    return catalog(ctx).remove(inputString(inputObject(input), 'id', true)!, ctx.actor);
  },
};

export interface CameraTestInput {
  /** A registered camera, or a URL (with optional credentials) to try before registering it. */
  id?: string;
  url?: string;
  transport?: Transport;
  credentials?: CameraCredentials;
  seconds: number;
}

export type CameraTested = ProbeResult & { camera: string | null; url: string };

export const cameraTest: Operation<CameraTestInput, CameraTested> = {
  name: 'camera.test',
  async run(ctx, input) {
    const o = inputObject(input);
    const id = inputString(o, 'id', false);
    const url = inputString(o, 'url', false);
    if (!id === !url) throw new UsageError('give a camera id or a URL (one of them)');
    const seconds = o.seconds;
    if (typeof seconds !== 'number' || !(seconds >= 1 && seconds <= 60)) throw new UsageError('seconds must be between 1 and 60');
    const svc = catalog(ctx);
    const credentials = credentialsOf(o) ?? undefined;
    const target = id
      ? await svc.target(id)
      : await svc.targetFor(
          { id: 'adhoc', name: 'ad hoc', url: url!, transport: (inputString(o, 'transport', false) ?? 'tcp') as Transport, zone: '', enabled: false, hasCredentials: Boolean(credentials), createdUtcMs: 0, updatedUtcMs: 0 },
          url!,
          credentials,
        );
    const result = await probeCamera(target, { ffprobe: ctx.config.tools.ffprobe, sandbox: ctx.config.tools.sandbox, timeoutS: ctx.config.cameras.probe_timeout_s, seconds });
    ctx.audit.append({ actor: ctx.actor, action: 'camera.tested', objectIds: id ? [id] : [], result: result.ok ? 'ok' : 'error', detail: { url: target.resolved.url, ...(result.ok ? {} : { problem: result.problem.code }) } });
    return { camera: id ?? null, url: target.resolved.url, ...result };
  },
};

/** One frame as a JPEG, returned as base64 (the CLI writes it where its user asked). */
export const cameraSnapshot: Operation<{ id: string; reason?: string }, { jpegBase64: string }> = {
  name: 'camera.snapshot',
  async run(ctx, input) {
    const o = inputObject(input);
    const id = inputString(o, 'id', true)!;
    const reason = inputString(o, 'reason', false);
    const target = await catalog(ctx).target(id);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hindsight-snapshot-'));
    try {
      const out = path.join(dir, 'frame.jpg');
      const r = await snapshotCamera(target, out, { ffmpeg: ctx.config.tools.ffmpeg, sandbox: ctx.config.tools.sandbox, timeoutS: ctx.config.cameras.probe_timeout_s });
      ctx.audit.append({ actor: ctx.actor, action: 'camera.snapshot', objectIds: [id], justification: reason, result: r.ok ? 'ok' : 'error', detail: r.ok ? {} : { problem: r.problem.code } });
      if (!r.ok) throw new HindsightError(`camera ${id}: ${r.problem.message}`, { code: r.problem.code, hint: r.problem.hint });
      return { jpegBase64: (await readFile(out)).toString('base64') };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};

export const CAMERA_OPERATIONS: readonly Operation[] = [cameraAdd, cameraUpdate, cameraRemove, cameraTest, cameraSnapshot];
