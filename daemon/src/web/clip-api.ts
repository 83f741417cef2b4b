import { existsSync } from 'node:fs';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import type { AppContext } from '../kernel/context.js';
import type { IncidentDesk } from '../incidents/desk.js';
import { incidentDir } from '../incidents/paths.js';
import { spawnChild } from '../util/child.js';
import { media } from '../util/sandbox.js';
import { WebError } from '../https/error.js';
import { actorOf } from './auth.js';
import { webRoute, type WebRoute } from './route.js';

const closed = { additionalProperties: false } as const;
const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });

/**
 * Playback of an incident's master clip for a manager: the clip's video remuxed by stream copy (never
 * re-encoded, the evidence file untouched) into fragmented MP4 that a browser plays as it arrives. Every
 * playback is audited.
 */
export function clipApi(d: { ctx: AppContext; desk: IncidentDesk }): WebRoute[] {
  return [
    webRoute({
      method: 'GET',
      url: '/api/v1/incidents/:id/clips/:camera',
      access: 'manager',
      summary: "Play an incident's master clip of one camera (stream copy into MP4; audited).",
      schema: { params: Type.Object({ id: Id, camera: Id }, closed) },
      handler: ({ params, caller, reply }) => {
        let view;
        try {
          view = d.desk.view(params.id!);
        } catch {
          throw new WebError(404, 'no such incident', { code: 'not_found' });
        }
        const cam = view.cameras.find((c) => c.cameraId === params.camera);
        if (!cam?.clipPath || cam.clipState !== 'done') throw new WebError(404, `camera ${params.camera} has no master clip in this incident`, { code: 'no_clip', hint: 'clips are cut once the incident reaches "extracting"' });
        const file = path.join(incidentDir(d.ctx.paths.evidenceDir, view.id), cam.clipPath);
        if (!existsSync(file)) throw new WebError(404, 'this master clip is no longer kept on the box', { code: 'clip_deleted', hint: `clips are deleted ${d.ctx.config.incidents.master_retention_days} days after the force confirmed delivery` });
        const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-i', file, '-map', '0:v:0', '-c:v', 'copy', '-an', '-f', 'mp4', '-movflags', 'frag_keyframe+empty_moov+default_base_moof', 'pipe:1'];
        const child = spawnChild(...media(d.ctx.config.tools.ffmpeg, args, { read: [file] }));
        reply.raw.once('close', () => void child.stop({ graceMs: 500 }));
        d.ctx.audit.append({ actor: actorOf(caller!.account), action: 'evidence.clip_viewed', objectIds: [view.id, cam.cameraId], sha256s: cam.clipSha256 ? [cam.clipSha256] : [] });
        return reply.type('video/mp4').header('cache-control', 'no-store').send(child.proc.stdout);
      },
    }),
  ];
}
