import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { daemonPaths } from '../../config/paths.js';
import { HindsightError, UsageError } from '../../util/errors.js';
import { FaceModels } from '../../vision/models.js';
import { visionOptions } from '../../vision/options.js';
import { analysePhoto, type PhotoResult } from '../../vision/photo.js';
import { loadConfigOrDefaults } from '../config-file.js';
import { EXIT_FAILURE } from '../../program/output.js';

interface FacesOptions {
  json?: boolean;
  list?: string;
  config?: string;
  modelsDir?: string;
}

function readList(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read list file ${file}: ${(err as Error).message}`, { hint: 'give a text file with one image path per line' });
  }
  return text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
}

/** Write a line, waiting when stdout is full: hundreds of images with 512-number embeddings stay bounded. */
function writeLine(line: string): Promise<void> {
  return new Promise((resolve) => {
    if (process.stdout.write(line + '\n')) resolve();
    else process.stdout.once('drain', resolve);
  });
}

function humanLine(r: PhotoResult): string {
  if ('error' in r) return `${r.file}: error: ${r.error}`;
  const faces = r.faces.map((f) => `  score ${f.score.toFixed(3)} eyes ${f.eye_distance.toFixed(1)} px ${f.accepted ? 'accepted' : `rejected (${f.reason})`}`);
  return [`${r.file}: ${r.width}x${r.height}, ${r.faces.length} face(s)`, ...faces].join('\n');
}

export function registerFaces(program: Command): void {
  program
    .command('faces')
    .description('find the faces in still images: box, score, 5 landmarks, quality, gate verdict and embedding of each')
    .argument('[images...]', 'image files (JPEG, PNG, WebP, TIFF)')
    .option('--json', 'one JSON line per image (the default when stdout is not a terminal)')
    .option('--list <file>', 'read image paths from FILE, one per line (with or instead of IMAGE arguments)')
    .option('-c, --config <file>', 'config file, for the vision settings and models.dir')
    .option('--models-dir <dir>', 'models folder (holds manifest.json)')
    .addHelpText('after', '\nOutput (JSON): {"file","width","height","faces":[{"box":[x1,y1,x2,y2],"score","landmarks5","eye_distance","quality":{...},"accepted","reason","embedding":[512]}]}\nper image, faces by score; an unreadable image gives {"file","error"} and exit 1 at the end.')
    .action(async (images: string[], opts: FacesOptions) => {
      const files = [...images, ...(opts.list ? readList(opts.list) : [])];
      if (files.length === 0) throw new UsageError('no images given', { hint: 'pass IMAGE paths or --list FILE' });
      const config = loadConfigOrDefaults(opts.config);
      const options = visionOptions(config, opts.modelsDir ?? daemonPaths(config).modelsDir);
      const models = await FaceModels.load(options.modelsDir, { intraOpThreads: options.intraOpThreads, withEmbedder: options.embeddings }).catch((err: unknown) => {
        if (err instanceof HindsightError) throw err;
        throw new HindsightError(`cannot load the face models: ${(err as Error).message}`, { hint: 'run `hindsight doctor`' });
      });
      const json = opts.json ?? !process.stdout.isTTY;
      let failures = 0;
      for (const file of files) {
        const result = await analysePhoto(models, file, options);
        if ('error' in result) failures++;
        await writeLine(json ? JSON.stringify(result) : humanLine(result));
      }
      await models.release();
      if (failures > 0) {
        process.stderr.write(`error: ${failures} of ${files.length} image(s) could not be read (see their "error" lines)\n`);
        process.exitCode = EXIT_FAILURE;
      }
    });
}
