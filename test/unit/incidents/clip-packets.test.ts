import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readClipPackets, readSegmentPackets } from '../../../daemon/src/incidents/clip-packets.js';
import { useSandbox } from '../../../daemon/src/util/sandbox.js';
import { tempDir } from '../../helpers/paths.js';

/**
 * An ffprobe that exits 0 with a packet list that is not JSON (seen once in a soak run, while a camera was
 * down) must not fail the cut with a JSON syntax error: a concat read falls back to reading file by file,
 * and a written clip that cannot be read is reported as such.
 */
describe('ffprobe packet lists that are not JSON', () => {
  let fake: string;
  beforeAll(() => useSandbox('off'));
  afterAll(() => useSandbox('bwrap'));

  beforeAll(() => {
    const dir = tempDir('hs-probe-');
    fake = path.join(dir, 'ffprobe');
    // broken JSON for the concat list, a good list for each file on its own
    writeFileSync(
      fake,
      `#!/bin/sh
case "$*" in
  *concat*) printf '{"packets": [{"pts_time": "0.0", "pos": "0", "flags": "K__"}{"pts_time": "0.1"' ;;
  *bad.ts*) printf '{"packets": [ {"pts_time": "0.0" "pos": "188"}' ;;
  *) printf '{"packets": [{"pts_time": "0.000", "duration_time": "0.1", "pos": "0", "flags": "K__"}, {"pts_time": "0.100", "duration_time": "0.1", "pos": "1880", "flags": "___"}]}' ;;
esac
`,
    );
    chmodSync(fake, 0o755);
  });

  it('reads a concat list file by file when its packet list is not JSON', async () => {
    const files = ['/tmp/a.ts', '/tmp/b.ts'];
    const packets = await readSegmentPackets(fake, files, '/tmp/list.ffconcat');
    expect(packets).toHaveLength(2);
    expect(packets[0]!.map((p) => [p.ptsS, p.pos, p.key])).toEqual([
      [0, 0, true],
      [0.1, 1880, false],
    ]);
  });

  it('reports a written clip whose packet list is not JSON as unreadable', async () => {
    await expect(readClipPackets(fake, '/tmp/bad.ts')).rejects.toThrow(/ffprobe cannot read the written clip \/tmp\/bad.ts/);
  });
});
