import type { Command } from 'commander';
import { sandboxCheck, rtspTestCameraCheck } from '../../cameras/doctor.js';
import { diskCheck, stateDirCheck } from '../../config/doctor.js';
import { daemonPaths, type DaemonPaths } from '../../config/paths.js';
import type { Config } from '../../config/schema.js';
import type { Check } from '../../doctor/check.js';
import { runChecks, summarize } from '../../doctor/run.js';
import { databaseCheck, nodeCheck } from '../../kernel/doctor.js';
import { modelFilesCheck, onnxRuntimeCheck } from '../../models/doctor.js';
import { ffmpegCheck, ffprobeCheck, hwDecodeCheck } from '../../recorder/doctor.js';
import { brokerDevCheck, uplinkCheck } from '../../uplink/doctor.js';
import { webCheck } from '../../web/doctor.js';
import { configFileInUse, configPath, loadConfigOrDefaults } from '../config-file.js';
import { table } from '../../program/output.js';

/** What the checks look at: the box as its config describes it. */
interface DoctorTarget {
  config: Config;
  paths: DaemonPaths;
  now: number;
}

/** Everything `hindsight doctor` looks at, in the order it prints them; each feature contributes its own. */
const BOX_CHECKS: readonly Check<DoctorTarget>[] = [
  nodeCheck,
  ffmpegCheck,
  ffprobeCheck,
  sandboxCheck,
  modelFilesCheck,
  onnxRuntimeCheck,
  hwDecodeCheck,
  stateDirCheck,
  diskCheck,
  databaseCheck,
  uplinkCheck,
  webCheck,
];

/** What only a developer's machine needs (the demo and the tests), not a shop's box. */
const DEV_CHECKS: readonly Check<DoctorTarget>[] = [brokerDevCheck, rtspTestCameraCheck];

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check ffmpeg, models and their hashes, onnxruntime, disk and state dir; exit 1 when something required is missing')
    .option('-c, --config <file>', 'config file (default: $HINDSIGHT_CONFIG or /etc/hindsight/config.yaml, else built-in defaults)')
    .option('--models-dir <dir>', 'check the models in this folder instead of the configured one')
    .option('--dev', "also check what the demo and the tests need (Mosquitto, the GStreamer RTSP test camera)")
    .option('--json', 'print the results as JSON')
    .action(async (opts: { config?: string; modelsDir?: string; json?: boolean; dev?: boolean }) => {
      const file = configFileInUse(opts.config);
      const config = loadConfigOrDefaults(opts.config);
      const paths = daemonPaths(config);
      if (opts.modelsDir) paths.modelsDir = opts.modelsDir;
      const results = await runChecks(opts.dev ? [...BOX_CHECKS, ...DEV_CHECKS] : BOX_CHECKS, { config, paths, now: Date.now() });
      const source = file ? `config: ${file}` : `no config file (${configPath(undefined)} does not exist): checked with the built-in defaults`;
      const { failed, fixes } = summarize(results);
      if (opts.json) {
        process.stdout.write(JSON.stringify({ ok: failed.length === 0, config: file ?? null, checks: results }, null, 2) + '\n');
      } else {
        process.stdout.write(`${source}\n\n`);
        process.stdout.write(table(['CHECK', 'STATUS', 'DETAIL'], results.map((r) => [r.check, r.state, r.detail])));
        if (fixes.length) {
          process.stdout.write('\nTo fix:\n');
          for (const r of fixes) process.stdout.write(`  ${r.check}: ${r.fix}\n`);
        }
        process.stdout.write(failed.length ? `\n${failed.length} required check(s) failed.\n` : '\nAll required checks passed.\n');
      }
      process.exitCode = failed.length ? 1 : 0;
    });
}
