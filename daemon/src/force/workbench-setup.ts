import path from 'node:path';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../util/clock.js';
import type { ForceConfig } from './config.js';
import type { ForceDb } from './database.js';
import { Gallery } from './gallery.js';
import { forcePaths } from './paths.js';
import { Workbench } from './workbench.js';

/** The gallery of a force installation (its photo copies in <dir>/gallery/photos, its search index in <dir>/gallery/index). */
export function openGallery(config: ForceConfig, fdb: ForceDb, clock: Clock, log?: Logger): Gallery {
  const dir = path.join(forcePaths(config.force.dir).dir, 'gallery');
  const g = config.gallery;
  return new Gallery({ db: fdb.db, audit: fdb.audit, clock, photosDir: path.join(dir, 'photos'), index: { dir: path.join(dir, 'index'), minPhotos: g.index_min_photos, shortlist: g.index_shortlist, expansion: g.index_expansion, log } });
}

/** The triage and candidate lists of a force installation, with its configured policy. */
export function openWorkbench(config: ForceConfig, fdb: ForceDb, clock: Clock, log?: Logger): Workbench {
  const w = config.workbench;
  return new Workbench({ db: fdb.db, audit: fdb.audit, clock, gallery: openGallery(config, fdb, clock, log), policy: { topK: w.candidates_top_k, threshold: w.candidate_threshold, triageMaxDays: w.triage_max_days, retentionDays: w.retention_days, seriesThreshold: w.series_threshold } });
}
