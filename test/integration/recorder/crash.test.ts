import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSegmentListLine } from '../../../daemon/src/recorder/segment-list.js';
import { runCli, startDaemon, writeConfig } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/paths.js';
import { isAlive, recordingFfmpegs, type TestProcess } from '../../helpers/process.js';
import { queryStateDb, recorderConfigOverrides } from '../../helpers/recorder.js';
import { startCamera } from '../../helpers/rtsp-camera.js';
import { waitFor } from '../../helpers/wait.js';

interface Row {
  path: string;
  start_utc_ms: number;
  end_utc_ms: number;
  run_id: string;
  recovered: number;
}

describe('recorder: daemon killed while recording', () => {
  it('ffmpeg dies with the daemon; on restart no segment is lost, the partial one is handled and recording continues', async () => {
    const dir = tempDir();
    const camera = await startCamera({ width: 320, height: 240, fps: 10, gop: 10 });
    const config = writeConfig(dir, recorderConfigOverrides({ recorder: { segment_seconds: 2 } }));
    const add = await runCli(['camera', 'add', '--config', config, '--id', 'till1', '--name', 'Till 1', '--url', camera.url]);
    expect(add.code, add.stderr).toBe(0);
    const camDir = path.join(dir, 'state', 'buffer', 'till1');
    const db = (): Database.Database => new Database(path.join(dir, 'state', 'hindsight.db'), { readonly: true });
    const rows = (): Row[] => queryStateDb<Row>(dir, 'SELECT path, start_utc_ms, end_utc_ms, run_id, recovered FROM segments ORDER BY start_utc_ms');
    let daemon: TestProcess = startDaemon(config);
    afterAll(async () => {
      await daemon.stop();
    });
    await daemon.waitForLine(/camera till1: recording/, 30_000);
    await waitFor(() => rows().length >= 3, { timeoutMs: 20_000, what: 'three indexed segments' });
    // kill in the middle of a segment
    await new Promise((r) => setTimeout(r, 900));
    const ffmpegs = recordingFfmpegs(daemon.pid);
    expect(ffmpegs).toHaveLength(1);
    // its address space is capped (recorder.ffmpeg_memory_mb, default 1024 MB)
    expect(readFileSync(`/proc/${ffmpegs[0]}/limits`, 'utf8')).toMatch(/^Max address space\s+1073741824\s+1073741824\s+bytes/m);
    daemon.child.signal('SIGKILL');
    await daemon.child.exited;

    // the parent-death signal takes ffmpeg down with the daemon: nothing keeps writing
    await waitFor(() => !isAlive(ffmpegs[0]!), { timeoutMs: 2000, what: 'ffmpeg to die with the daemon' });
    const sizes = (): string => readdirSync(camDir).map((f) => `${f}:${statSync(path.join(camDir, f)).size}`).sort().join(',');
    const frozen = sizes();
    await new Promise((r) => setTimeout(r, 1500));
    expect(sizes(), 'no file grows after the daemon died').toBe(frozen);

    const lists = readdirSync(camDir).filter((f) => f.endsWith('.csv'));
    expect(lists).toHaveLength(1);
    const runId = lists[0]!.slice(0, -4);
    const listed = readFileSync(path.join(camDir, lists[0]!), 'utf8').split('\n').map(parseSegmentListLine).filter((e) => e !== undefined).map((e) => `till1/${e.file}`);
    const partials = readdirSync(camDir).filter((f) => f.endsWith('.ts') && !listed.includes(`till1/${f}`)).map((f) => `till1/${f}`);
    expect(partials, 'ffmpeg was killed in the middle of one segment').toHaveLength(1);
    const before = rows();

    daemon = startDaemon(config);
    await daemon.waitForLine(/finished recording runs left by the previous daemon/, 30_000);
    await daemon.waitForLine(/camera till1: recording/, 30_000);
    const after = await waitFor(
      () => {
        const r = rows();
        return r.some((s) => s.run_id !== runId) ? r : undefined;
      },
      { timeoutMs: 20_000, what: 'a segment of the new run' },
    );
    const indexed = new Set(after.map((r) => r.path));
    for (const p of [...before.map((r) => r.path), ...listed]) expect(indexed.has(p), `${p} is still indexed`).toBe(true);
    const partial = partials[0]!;
    const partialRow = after.find((r) => r.path === partial);
    if (partialRow) {
      expect(partialRow.recovered).toBe(1);
      expect(statSync(path.join(dir, 'state', 'buffer', partial)).size).toBeGreaterThan(0);
    } else expect(() => statSync(path.join(dir, 'state', 'buffer', partial)), 'an unreadable partial is removed').toThrow();
    expect(readdirSync(camDir).filter((f) => f === lists[0]), 'the finished run list is removed').toEqual([]);
    // the old run stays contiguous, the interruption is one gap, and the new run continues after it
    const old = after.filter((r) => r.run_id === runId);
    for (let i = 1; i < old.length; i++) expect(old[i]!.start_utc_ms).toBe(old[i - 1]!.end_utc_ms);
    const fresh = after.filter((r) => r.run_id !== runId);
    const d = db();
    const gaps = d.prepare('SELECT start_utc_ms, end_utc_ms, reason FROM gaps ORDER BY start_utc_ms').all() as { start_utc_ms: number; end_utc_ms: number; reason: string }[];
    d.close();
    expect(gaps).toEqual([{ start_utc_ms: old[old.length - 1]!.end_utc_ms, end_utc_ms: fresh[0]!.start_utc_ms, reason: 'recording was interrupted (the daemon was not running)' }]);
    console.log(JSON.stringify({ listedBeforeKill: listed.length, indexedBeforeKill: before.length, partialSalvaged: Boolean(partialRow), gapMs: gaps[0]!.end_utc_ms - gaps[0]!.start_utc_ms }));
  });
});
