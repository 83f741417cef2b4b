import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../../daemon/src/util/child.js';
import { decodeErrors } from '../../helpers/media.js';
import { tempDir } from '../../helpers/paths.js';
import { garbleVideoPayload } from '../../helpers/ts-damage.js';
import { defaultVisionOptions } from '../../helpers/walkers.js';

const { analyseIncident } = (await import('../../../daemon/dist/vision/incident.js')) as typeof import('../../../daemon/src/vision/incident.js');

const START = Date.UTC(2026, 11, 1, 9, 0, 0);

/** 6 s of 320x240 H.264 in MPEG-TS, keyframe every second. */
async function makeClip(file: string): Promise<void> {
  const r = await runCommand('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=10', '-t', '6', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '10', '-bf', '0', '-f', 'mpegts', '-y', file]);
  expect(r.code, r.stderr).toBe(0);
}

describe('the analysis reports damaged clips', () => {
  let dir: string;
  let clean: string;
  let garbage: string;

  beforeAll(async () => {
    dir = tempDir();
    clean = path.join(dir, 'clean.ts');
    garbage = path.join(dir, 'garbage.ts');
    await makeClip(clean);
    await makeClip(garbage);
    expect(garbleVideoPayload(garbage, 0.3)).toBeGreaterThan(10);
    expect(await decodeErrors(garbage)).not.toBe('');
  });

  it('a clip of garbage video is analysed as far as it decodes and reported as damaged; a clean one is not', async () => {
    const result = await analyseIncident({
      clips: [
        { cameraId: 'clean', file: clean, clipStartUtcMs: START },
        // the cut found its keyframes from 2 s to 4 s undecodable
        { cameraId: 'garbage', file: garbage, clipStartUtcMs: START, damaged: [{ startMs: START + 2000, endMs: START + 4000 }] },
      ],
      outDir: path.join(dir, 'out'),
      options: defaultVisionOptions(),
    });
    const byCamera = new Map(result.clips.map((c) => [c.camera_id, c]));
    expect(byCamera.get('clean')!.damaged).toBeUndefined();
    expect(byCamera.get('clean')!.error).toBeUndefined();
    const bad = byCamera.get('garbage')!;
    expect(bad.error).toBeUndefined(); // still analysed
    expect(bad.frames_analysed).toBeGreaterThan(0);
    expect(bad.damaged).toMatch(/^damaged video: 2\.0 s of it does not decode \(from 2026-12-01T09:00:02\.000Z\); the decoder reported errors \(.+\)$/);
  });
});
