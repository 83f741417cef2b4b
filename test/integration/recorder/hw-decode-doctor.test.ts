import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, writeConfig } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/paths.js';

interface DoctorJson {
  checks: { check: string; state: string; required: boolean; detail: string; fix?: string }[];
}

/** `hindsight doctor --json`'s video-decoding line for a config with these vision settings. */
async function decodingCheck(dir: string, vision: Record<string, unknown>, name: string) {
  const config = writeConfig(dir, { vision }, `${name}.yaml`);
  const r = await runCli(['doctor', '--config', config, '--json']);
  const check = (JSON.parse(r.stdout) as DoctorJson).checks.find((c) => c.check === 'video decoding (analysis)');
  expect(check, r.stdout + r.stderr).toBeDefined();
  return check!;
}

describe('hindsight doctor: hardware decoding for the analysis (no GPU here: the paths that say why it cannot be used)', () => {
  const dir = tempDir();

  it('software by default; VA-API on a missing device, a file and a device with no VA driver: a warning with the fix, never required', async () => {
    const off = await decodingCheck(dir, {}, 'off');
    expect(off).toMatchObject({ state: 'ok', required: false, detail: 'in software (vision.hw_decode: off)' });

    const missing = await decodingCheck(dir, { hw_decode: 'vaapi', vaapi_device: path.join(dir, 'renderD128') }, 'missing');
    expect(missing).toMatchObject({ state: 'warn', required: false });
    expect(missing.detail).toMatch(/no such device; clips are decoded in software/);
    expect(missing.fix).toMatch(/vision\.hw_decode: off/);

    const file = path.join(dir, 'not-a-device');
    writeFileSync(file, '');
    expect((await decodingCheck(dir, { hw_decode: 'vaapi', vaapi_device: file }, 'file')).detail).toMatch(/not a device/);

    // a character device that is no GPU: ffmpeg itself tries to open VA-API on it, in the decoders' sandbox
    const nul = await decodingCheck(dir, { hw_decode: 'vaapi', vaapi_device: '/dev/null' }, 'null');
    expect(nul).toMatchObject({ state: 'warn', required: false });
    expect(nul.detail).toMatch(/^VA-API at \/dev\/null: ffmpeg cannot use it \(.+\); clips are decoded in software$/);
  });

  it('bad input: an unknown decoder is a config error naming the allowed values', async () => {
    const config = writeConfig(dir, { vision: { hw_decode: 'cuda' } }, 'bad.yaml');
    const r = await runCli(['config', 'check', config]);
    expect(r.code).toBe(2);
    expect(r.stderr + r.stdout).toMatch(/vision\.hw_decode.*(off|vaapi)/);
  });
});
