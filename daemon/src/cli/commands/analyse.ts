import { statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { daemonPaths } from '../../config/paths.js';
import { createLogger } from '../../log/logger.js';
import { UsageError } from '../../util/errors.js';
import { analyseIncident } from '../../vision/incident.js';
import { visionOptions } from '../../vision/options.js';
import type { ClipInput } from '../../vision/result.js';
import { loadConfigOrDefaults } from '../config-file.js';
import { EXIT_FAILURE } from '../../program/output.js';
import { parseTimeArg } from '../time-arg.js';

interface AnalyseOptions {
  out: string;
  fps?: string;
  start?: string;
  cropsOnly?: boolean;
  config?: string;
  modelsDir?: string;
}

function parseStart(value: string | undefined, file: string): number {
  if (value === undefined) {
    try {
      return statSync(file).mtimeMs;
    } catch {
      return 0; // the analysis reports the missing file itself
    }
  }
  return parseTimeArg(value, Date.now(), '--start');
}

/** --out names a folder (created if absent); an existing file there is refused before any work starts. */
function checkOutputFolder(out: string, given: string): void {
  let st;
  try {
    st = statSync(out);
  } catch {
    return; // absent: the analysis creates it
  }
  if (!st.isDirectory()) throw new UsageError(`--out ${given} is a file, not a folder`, { hint: 'give a folder for result.json and the crops (it is created if missing)' });
}

export function registerAnalyse(program: Command): void {
  program
    .command('analyse')
    .description('find the distinct people in video clips and write their best face crops, quality and embeddings to a folder')
    .argument('<videos...>', 'video files, one per camera (cameras are named cam1, cam2... in the order given)')
    .requiredOption('--out <dir>', 'output folder: result.json and subjects/<id>/ crops')
    .option('--fps <n>', 'frames analysed per second (default: vision.fps from the config, 5)')
    .option('--start <time>', 'time of the first frame of every clip: ISO 8601 with a zone (2026-01-31T14:05:00Z), or e.g. "20 minutes ago"; default: each file\'s modification time')
    .option('--crops-only', 'crops-only mode: no embeddings computed or stored')
    .option('-c, --config <file>', 'config file, for the vision settings and models.dir')
    .option('--models-dir <dir>', 'models folder (holds manifest.json)')
    .action(async (videos: string[], opts: AnalyseOptions) => {
      const config = loadConfigOrDefaults(opts.config);
      const options = visionOptions(config, opts.modelsDir ?? daemonPaths(config).modelsDir);
      if (opts.fps !== undefined) {
        const fps = Number(opts.fps);
        if (!(fps >= 0.5 && fps <= 30)) throw new UsageError(`--fps ${opts.fps} is out of range`, { hint: 'give a number from 0.5 to 30' });
        options.fps = fps;
      }
      if (opts.cropsOnly) options.embeddings = false;
      const clips: ClipInput[] = videos.map((file, i) => ({ cameraId: `cam${i + 1}`, file: path.resolve(file), clipStartUtcMs: parseStart(opts.start, file) }));
      const out = path.resolve(opts.out);
      checkOutputFolder(out, opts.out);
      const log = createLogger({ level: 'warn', pretty: false, destination: process.stderr });
      let lastPct = -10;
      const result = await analyseIncident({
        clips,
        outDir: out,
        options,
        log,
        onProgress: (p) => {
          const pct = p.framesTotal ? Math.floor((100 * p.framesDone) / p.framesTotal) : 0;
          if (pct >= lastPct + 10) {
            lastPct = pct;
            process.stderr.write(`analysed ${p.framesDone}/${p.framesTotal} frames\n`);
          }
        },
      });
      for (const c of result.clips) {
        if (c.error) process.stderr.write(`error: ${c.camera_id} ${c.file}: ${c.error}\n`);
        else process.stdout.write(`${c.camera_id}: ${c.frames_analysed} frames, ${c.faces_detected} faces (${c.faces_accepted} accepted), ${c.tracks} tracks${c.warnings.length ? `, ${c.warnings.length} decode warning(s)` : ''}\n`);
      }
      for (const s of result.subjects) process.stdout.write(`${s.id}: ${s.crops.length} crop(s) from ${s.cameras.join(', ')}, ${s.first_utc} to ${s.last_utc}\n`);
      process.stdout.write(`${result.subjects.length} subject(s); ${path.join(out, 'result.json')} (${result.wall_ms} ms)\n`);
      if (result.clips.some((c) => c.error)) process.exitCode = EXIT_FAILURE;
    });
}
