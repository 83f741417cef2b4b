import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCommand } from '../../../daemon/src/util/child.js';
import { runCli } from '../../helpers/cli.js';
import { PUBLIC_FACE } from '../../helpers/faces.js';
import { tempDir } from '../../helpers/paths.js';

describe('hindsight faces (fresh clone: public-domain photo from a Debian package)', () => {
  it('prints one JSON line per image with box, score, 5 landmarks, quality, verdict and a unit 512-d embedding', async () => {
    const r = await runCli(['faces', '--json', PUBLIC_FACE]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const out = JSON.parse(lines[0]!);
    expect(out).toMatchObject({ file: PUBLIC_FACE, width: 512, height: 600 });
    expect(out.faces).toHaveLength(1);
    const f = out.faces[0];
    expect(Object.keys(f)).toEqual(['box', 'score', 'landmarks5', 'eye_distance', 'quality', 'accepted', 'reason', 'embedding']);
    expect(f.accepted).toBe(true);
    expect(f.reason).toBe('ok');
    expect(f.score).toBeGreaterThan(0.99);
    // the face is in the upper middle of the portrait; eyes above the mouth, left eye left of the right one
    const [lx, ly] = f.landmarks5[0];
    const [rx] = f.landmarks5[1];
    const [, my] = f.landmarks5[3];
    expect(lx).toBeLessThan(rx);
    expect(ly).toBeLessThan(my);
    expect(f.box[0]).toBeLessThan(lx);
    expect(f.box[2]).toBeGreaterThan(rx);
    expect(f.eye_distance).toBeGreaterThan(60);
    expect(f.embedding).toHaveLength(512);
    expect(Math.hypot(...f.embedding)).toBeCloseTo(1, 3);
    for (const k of ['score', 'eye_distance', 'sharpness', 'yaw', 'pitch', 'roll', 'brightness', 'contrast', 'clipped', 'landmark_jitter', 'feature_norm']) expect(typeof f.quality[k], k).toBe('number');
  });

  it('the same face, smaller and shifted, gives a close embedding (cosine well above the FAR 1e-4 point)', async () => {
    const dir = tempDir();
    const small = path.join(dir, 'small.png');
    // pad and shrink: a different image of the same face
    const r0 = await runCommand('ffmpeg', ['-v', 'error', '-y', '-i', PUBLIC_FACE, '-vf', 'scale=256:300,pad=640:480:300:100:gray', small]);
    expect(r0.code, r0.stderr).toBe(0);
    const r = await runCli(['faces', '--json', PUBLIC_FACE, small]);
    expect(r.code, r.stderr).toBe(0);
    const [a, b] = r.stdout.trim().split('\n').map((l) => JSON.parse(l).faces[0].embedding as number[]);
    const cos = a!.reduce((s, x, i) => s + x * b![i]!, 0);
    expect(cos).toBeGreaterThan(0.6);
  });

  it('bad input: missing, empty, not-an-image and a 10000x10000 image give error lines, exit 1, never a crash', async () => {
    const dir = tempDir();
    const empty = path.join(dir, 'empty.jpg');
    const text = path.join(dir, 'text.jpg');
    const huge = path.join(dir, 'huge.png');
    writeFileSync(empty, '');
    writeFileSync(text, 'this is not an image\n');
    const mk = await runCommand('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=gray:s=10000x10000', '-frames:v', '1', huge], { timeoutMs: 120_000 });
    expect(mk.code, mk.stderr).toBe(0);
    const list = path.join(dir, 'list.txt');
    writeFileSync(list, [empty, text, huge, path.join(dir, 'missing.jpg'), PUBLIC_FACE].join('\n'));
    const r = await runCli(['faces', '--json', '--list', list]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/4 of 5 image\(s\) could not be read/);
    const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(out.map((o) => o.file)).toEqual([empty, text, huge, path.join(dir, 'missing.jpg'), PUBLIC_FACE]);
    expect(out[0].error).toMatch(/not a readable image/);
    expect(out[1].error).toMatch(/not a readable image/);
    expect(out[2].error).toMatch(/larger than 50000000 pixels.*max_image_pixels/);
    expect(out[3].error).toMatch(/no such file/);
    expect(out[4].faces).toHaveLength(1);
  });

  it('hundreds of images in one call (bounded memory: one image at a time, output with back-pressure)', async () => {
    const dir = tempDir();
    const list = path.join(dir, 'list.txt');
    writeFileSync(list, Array.from({ length: 200 }, () => PUBLIC_FACE).join('\n'));
    const r = await runCli(['faces', '--list', list, '--json'], { timeoutMs: 600_000 });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(200);
    expect(new Set(lines).size).toBe(1); // deterministic
  });

  it('usage errors exit 2 and --help describes the output', async () => {
    expect((await runCli(['faces'])).code).toBe(2);
    const help = await runCli(['faces', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--list <file>/);
    expect(help.stdout).toMatch(/embedding/);
    const badList = await runCli(['faces', '--list', '/nonexistent/list.txt']);
    expect(badList.code).toBe(2);
    expect(badList.stderr).toMatch(/cannot read list file/);
  });
});
