import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkBorders, describeLayers, MAX_LAYERS, readTree } from '../helpers/import-graph.js';
import { REPO_ROOT } from '../helpers/paths.js';

const SRC = path.join(REPO_ROOT, 'daemon/src');

describe('the house keeps its borders (daemon/src)', () => {
  it('has no import cycle, no forbidden import, no SQL outside the repositories, and few layers', () => {
    const report = checkBorders(readTree(SRC));
    console.log(`folder layers: ${report.layerCount} (at most ${MAX_LAYERS}) — ${describeLayers(report.layers)}`);
    expect(report.violations).toEqual([]);
    expect(report.layerCount).toBeGreaterThan(0);
    expect(report.layerCount).toBeLessThanOrEqual(MAX_LAYERS);
  });
});

/**
 * Each case takes the real tree and breaks one border with one deliberate import (or SQL string), added
 * in memory: the check must name that rule. This is what proves the check can fail.
 */
describe('a deliberately broken border is caught', () => {
  const broken = (edits: Record<string, string>): string[] => checkBorders(readTree(SRC, edits)).violations.map((v) => v.rule);
  it('a file-level import cycle', () => {
    expect(broken({ 'util/hash.ts': "import './text.js';", 'util/text.ts': "import './hash.js';" })).toContain('file-cycle');
  });

  it('a folder-level cycle (a low folder importing a higher one)', () => {
    expect(broken({ 'util/text.ts': "import type { Db } from '../db/db.js';" })).toContain('folder-cycle');
  });

  it('a feature importing the composition root', () => {
    expect(broken({ 'recorder/settings.ts': "import type { Daemon } from '../app/daemon.js';" })).toContain('feature-imports-app');
  });

  it('the database layer importing a feature', () => {
    expect(broken({ 'db/repos/segments.ts': "import type { CameraCredentials } from '../../cameras/credentials.js';" })).toContain('db-imports-feature');
  });

  it('SQL outside the repositories', () => {
    expect(broken({ 'recorder/status.ts': "export const sneaky = 'SELECT id FROM segments';" })).toContain('sql-outside-repositories');
  });

  it('the force importing the box runtime', () => {
    expect(broken({ 'force/paths.ts': "import type { RecorderService } from '../recorder/service.js';" })).toContain('force-imports-box');
  });

  it('the box runtime importing the force', () => {
    expect(broken({ 'uplink/service.ts': "import type * as forceKeys from '../force/keys.js';" })).toContain('box-imports-force');
  });

  it('a box file other than the analyse step importing the face pipeline (the privacy guarantee)', () => {
    expect(broken({ 'recorder/settings.ts': "import type { Subject } from '../vision/result.js';" })).toContain('vision-outside-analyse');
    expect(broken({ 'uplink/service.ts': "const pipeline = () => import('../vision/incident.js');" })).toContain('vision-outside-analyse');
  });

  it('the box importing the devkit', () => {
    expect(broken({ 'cli/main.ts': "import type * as devCamera from '../devkit/camera.js';" })).toContain('imports-devkit');
  });

  it('more layers than allowed', () => {
    const chain = {
      'extra1/a.ts': "import '../cli/main.js';",
      'extra2/a.ts': "import '../extra1/a.js';",
      'extra3/a.ts': "import '../extra2/a.js';",
    };
    expect(broken(chain)).toContain('too-many-layers');
  });
});

it('a tree whose two files import each other has exactly that violation', () => {
  const empty = mkdtempSync(path.join(tmpdir(), 'hindsight-borders-'));
  try {
    expect(checkBorders(readTree(empty, { 'a.ts': "import './b.js';", 'b.ts': "import './a.js';" })).violations.map((v) => v.rule)).toEqual(['file-cycle']);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});
