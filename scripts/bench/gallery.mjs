// The force's custody gallery (force/gallery.ts), measured on the dev photo set:
//  1. Identification, as NIST's 1:N tests report it: the gallery holds the first photo of each identity but
//     a held-out fifth (every 5th identity by name, never enrolled). Enrolled probes are the other photos of
//     the enrolled identities (at most PROBES_PER_ID each): rank-1 and rank-10 identification rates
//     (threshold ignored) and FNIR, the share whose mate is not proposed within the top K at or above the
//     threshold. Unenrolled probes are every photo of the held-out identities: FPIR, the share with any
//     proposal at or above the threshold. At the configured threshold, and at the thresholds that give an
//     FPIR of 0.01 and 0.1 on these probes (with ~100 unenrolled probes, 0.01 is one or two of them).
//     Probes take the face nearest the photo's centre (the labelled person), like the gallery photos.
//  2. Import speed: a manifest of IMPORT_PHOTOS lines (P00001..., cycling through every dev photo) through
//     Gallery.import: detection, quality gate and embedding run for every line, even on repeated bytes.
//     If the run would take longer than MAX_IMPORT_S it stops early and the figure is extrapolated (and
//     labelled so).
//  3. Exact search latency (Gallery.search, every embedding compared) at 10,000 and 100,000 entries: the
//     imported gallery topped up with random unit vectors of the model's dimension.
// Figures depend on what else the machine runs at the time: the 2 cores may be shared.
// HINDSIGHT_BENCH_GALLERY_IMPORT sets the import size (default 10000); HINDSIGHT_BENCH_KEEP=1 keeps the
// temporary force folder.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { round } from './_measure.mjs';

const PROBES_PER_ID = 5;
const HOLD_OUT_EVERY = 5;
const IMPORT_PHOTOS = Number(process.env.HINDSIGHT_BENCH_GALLERY_IMPORT ?? 10_000);
const MAX_IMPORT_S = 900;
const SEARCH_SIZES = [10_000, 100_000];
const SEARCHES = 50;
const BENCH_ACTOR = { type: 'system', id: 'bench' };

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const percentile = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];
const countBy = (xs) => xs.reduce((m, x) => ((m[x] = (m[x] ?? 0) + 1), m), {});

/** Identity folders of the dev set (not starting with '_') and their photos, by name and number. */
function identities(dev) {
  return readdirSync(dev, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('_'))
    .map((d) => d.name)
    .sort()
    .map((id) => ({ id, photos: readdirSync(path.join(dev, id)).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort((a, b) => parseInt(a, 10) - parseInt(b, 10)).map((f) => `${id}/${f}`) }))
    .filter((i) => i.photos.length > 0);
}

function writeManifest(file, rows) {
  writeFileSync(file, ['person_ref,photo_file,capture_date,source', ...rows.map((r) => `${r.personRef},${r.file},2025-01-01,bench`)].join('\n') + '\n');
}

/** How many lines failed for each reason. */
const reasonCounts = (failed) => countBy(failed.map((f) => f.reason));

function randomUnit(dim) {
  const v = new Float32Array(dim);
  let n = 0;
  for (let i = 0; i < dim; i++) {
    // Box-Muller: isotropic directions
    const g = Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
    v[i] = g;
    n += g * g;
  }
  n = Math.sqrt(n);
  for (let i = 0; i < dim; i++) v[i] /= n;
  return v;
}

/** The smallest threshold (to 1e-6) at which at most `fpir` of the unenrolled probes get a proposal. */
function thresholdAtFpir(unenrolledTop, fpir) {
  const desc = [...unenrolledTop].sort((a, b) => b - a);
  const allowed = Math.floor(fpir * desc.length + 1e-9);
  return allowed >= desc.length ? -1 : desc[allowed] + 1e-6;
}

export async function run({ root, log }) {
  const dev = process.env.HINDSIGHT_FACES_DIR ?? path.resolve(root, '..', 'shared', 'faces', 'dev');
  if (!existsSync(dev)) throw new Error(`dev face photos not found at ${dev} (set HINDSIGHT_FACES_DIR): this benchmark needs them`);
  const dist = (p) => import(path.join(root, 'daemon/dist', p));
  const { openForceDb } = await dist('force/database.js');
  const { Gallery } = await dist('force/gallery.js');
  const { GalleryRepo } = await dist('force/db/gallery.js');
  const { loadPhotoEmbedder } = await dist('force/embedder.js');
  const { systemClock } = await dist('util/clock.js');
  const { newId } = await dist('util/ids.js');
  const { ForceConfigSchema } = await dist('force/config.js');
  // the threshold and top K a force gets unless it configures others
  const { candidate_threshold: threshold, candidates_top_k: topK } = ForceConfigSchema.properties.workbench.properties;
  const defaultThreshold = threshold.default;
  const TOP_K = topK.default;

  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-bench-gallery-'));
  const t0 = performance.now();
  const embedder = await loadPhotoEmbedder();
  const modelLoadMs = performance.now() - t0;
  const open = (name) => {
    const fdb = openForceDb(path.join(dir, name));
    return { fdb, gallery: new Gallery({ db: fdb.db, audit: fdb.audit, clock: systemClock, photosDir: path.join(dir, name, 'photos') }), repo: new GalleryRepo(fdb.db) };
  };
  try {
    // 1. Identification
    const all = identities(dev);
    const heldOut = all.filter((_, i) => i % HOLD_OUT_EVERY === HOLD_OUT_EVERY - 1);
    const enrolledIds = all.filter((i) => !heldOut.includes(i));
    const id = open('identification');
    const manifest = path.join(dir, 'identification.csv');
    writeManifest(manifest, enrolledIds.map((i) => ({ personRef: i.id, file: i.photos[0] })));
    log(`gallery: first photo of ${enrolledIds.length} identities; ${heldOut.length} identities held out`);
    let t = performance.now();
    const galleryReport = await id.gallery.import(dev, manifest, embedder, BENCH_ACTOR, { sync: false });
    const galleryImportS = (performance.now() - t) / 1000;
    const inGallery = new Set(id.repo.persons().map((p) => p.personRef));

    const probe = async (file) => {
      const r = await embedder.embedPhoto(file, readFileSync(path.join(dev, file)), 'centre');
      return 'reason' in r ? { file, reason: r.reason } : { file, embedding: r.embedding };
    };
    const enrolledProbes = [];
    for (const i of enrolledIds.filter((x) => inGallery.has(x.id) && x.photos.length >= 2)) {
      for (const file of i.photos.slice(1, 1 + PROBES_PER_ID)) enrolledProbes.push({ mate: i.id, ...(await probe(file)) });
    }
    const unenrolledProbes = [];
    for (const i of heldOut) for (const file of i.photos) unenrolledProbes.push({ mate: null, ...(await probe(file)) });
    const probeFailures = [...enrolledProbes, ...unenrolledProbes].filter((p) => p.reason);

    // every proposal down to any score: the top K, so each threshold can be applied afterwards
    const ranked = (p) => id.gallery.search(p.embedding, embedder.model, TOP_K, -Infinity);
    const enrolled = enrolledProbes.filter((p) => p.embedding).map((p) => {
      const list = ranked(p);
      const rank = list.findIndex((m) => m.personRef === p.mate) + 1;
      return { rank, mateScore: rank ? list[rank - 1].score : null };
    });
    const unenrolledTop = unenrolledProbes.filter((p) => p.embedding).map((p) => ranked(p)[0]?.score ?? -1);
    const fnirAt = (thr) => enrolled.filter((e) => !(e.rank > 0 && e.mateScore >= thr)).length / enrolled.length;
    const fpirAt = (thr) => unenrolledTop.filter((s) => s >= thr).length / unenrolledTop.length;
    const rankRate = (k) => enrolled.filter((e) => e.rank > 0 && e.rank <= k).length / enrolled.length;
    const atFpir = [0.01, 0.1].map((target) => {
      const thr = thresholdAtFpir(unenrolledTop, target);
      return { fpir_target: target, threshold: round(thr, 4), fpir: round(fpirAt(thr), 4), fnir: round(fnirAt(thr), 4) };
    });
    id.fdb.close();
    log(`identification: rank-1 ${round(rankRate(1), 4)}, FNIR ${round(fnirAt(defaultThreshold), 4)} at FPIR ${round(fpirAt(defaultThreshold), 4)} (threshold ${defaultThreshold})`);

    // 2. Import speed
    const photos = all.flatMap((i) => i.photos);
    const im = open('import');
    const importManifest = path.join(dir, 'import.csv');
    writeManifest(importManifest, Array.from({ length: IMPORT_PHOTOS }, (_, n) => ({ personRef: `P${String(n + 1).padStart(5, '0')}`, file: photos[n % photos.length] })));
    log(`importing ${IMPORT_PHOTOS} photos (${photos.length} distinct files, cycled)`);
    let stoppedAt = null;
    let lastLog = performance.now();
    t = performance.now();
    let importReport = null;
    try {
      importReport = await im.gallery.import(dev, importManifest, embedder, BENCH_ACTOR, {
        sync: false,
        onProgress: (done, total) => {
          const s = (performance.now() - t) / 1000;
          if (performance.now() - lastLog > 30_000) {
            lastLog = performance.now();
            log(`  ${done} of ${total} photos, ${round(done / s, 1)} photos/s`);
          }
          if (done >= 500 && done < total && (s / done) * total > MAX_IMPORT_S) {
            stoppedAt = { done, s };
            throw new Error('projected import time over the limit');
          }
        },
      });
    } catch (err) {
      if (!stoppedAt) throw err;
    }
    const importS = (performance.now() - t) / 1000;
    const importCounts = im.repo.counts();
    const imported = stoppedAt
      ? { photos_measured: stoppedAt.done, seconds_measured: round(stoppedAt.s, 1), extrapolated: true, seconds_for_all: round((stoppedAt.s / stoppedAt.done) * IMPORT_PHOTOS, 0), photos_per_s: round(stoppedAt.done / stoppedAt.s, 1) }
      : { photos_measured: IMPORT_PHOTOS, seconds_measured: round(importS, 1), extrapolated: false, seconds_for_all: round(importS, 1), photos_per_s: round(IMPORT_PHOTOS / importS, 1), added: importReport.added, failed: importReport.failed.length, failed_reasons: reasonCounts(importReport.failed) };
    log(`import: ${JSON.stringify(imported)}`);

    // 3. Exact search latency: the imported gallery topped up with random unit vectors
    const dim = enrolledProbes.find((p) => p.embedding).embedding.length;
    const probes = enrolledProbes.filter((p) => p.embedding).map((p) => p.embedding);
    let synthetic = 0;
    const fillTo = (n) => {
      const now = systemClock.now();
      const have = im.repo.counts().photos;
      im.fdb.db.transaction(() => {
        for (let i = have; i < n; i++) {
          const personRef = `S${String(i + 1).padStart(6, '0')}`;
          const e = randomUnit(dim);
          im.repo.upsertPerson(personRef, now);
          im.repo.addPhoto({ photoId: newId(), personRef, file: 'synthetic.jpg', sha256: '0'.repeat(64), storedPath: path.join(dir, 'none.jpg'), captured: '2025-01-01', source: 'synthetic', model: embedder.model, embedding: Buffer.from(e.buffer), faceScore: 1, addedUtc: now });
          synthetic++;
        }
      })();
    };
    const latency = {};
    for (const size of SEARCH_SIZES) {
      fillTo(size);
      const entries = im.repo.counts().photos;
      im.gallery.search(probes[0], embedder.model, TOP_K, defaultThreshold); // warm the page cache
      const ms = [];
      let candidates = 0;
      for (let i = 0; i < SEARCHES; i++) {
        const s = performance.now();
        candidates += im.gallery.search(probes[i % probes.length], embedder.model, TOP_K, defaultThreshold).length;
        ms.push(performance.now() - s);
      }
      latency[size] = { entries, searches: SEARCHES, median_ms: round(median(ms), 1), p95_ms: round(percentile(ms, 95), 1), max_ms: round(Math.max(...ms), 1), mean_candidates: round(candidates / SEARCHES, 2) };
      log(`search at ${entries} entries: median ${latency[size].median_ms} ms, p95 ${latency[size].p95_ms} ms`);
    }
    im.fdb.close();

    const summary = {
      gallery_identities: galleryReport.added,
      enrolled_probes: enrolled.length,
      unenrolled_probes: unenrolledTop.length,
      rank1_identification_rate: round(rankRate(1), 4),
      rank10_identification_rate: round(rankRate(TOP_K), 4),
      threshold: defaultThreshold,
      fpir_at_threshold: round(fpirAt(defaultThreshold), 4),
      fnir_at_threshold: round(fnirAt(defaultThreshold), 4),
      fnir_at_fpir_0_01: atFpir[0].fnir,
      threshold_at_fpir_0_01: atFpir[0].threshold,
      fnir_at_fpir_0_1: atFpir[1].fnir,
      threshold_at_fpir_0_1: atFpir[1].threshold,
      gallery_photos_failed_quality: galleryReport.failed.length,
      probes_failed_quality: probeFailures.length,
      import_photos: IMPORT_PHOTOS,
      import_seconds: imported.seconds_for_all,
      import_photos_per_s: imported.photos_per_s,
      import_extrapolated: imported.extrapolated,
      search_10k_median_ms: latency[10_000].median_ms,
      search_10k_p95_ms: latency[10_000].p95_ms,
      search_100k_median_ms: latency[100_000].median_ms,
      search_100k_p95_ms: latency[100_000].p95_ms,
    };
    return {
      summary,
      identification: {
        gallery: { identities: enrolledIds.length, added: galleryReport.added, failed: galleryReport.failed.length, failed_reasons: reasonCounts(galleryReport.failed), import_s: round(galleryImportS, 1) },
        held_out_identities: heldOut.map((i) => i.id),
        top_k: TOP_K,
        probes_per_identity_max: PROBES_PER_ID,
        probe_pick: 'the face nearest the photo centre',
        probe_failures: { count: probeFailures.length, reasons: reasonCounts(probeFailures), files: probeFailures.map((p) => p.file) },
        rank_distribution: countBy(enrolled.map((e) => (e.rank === 0 ? `>${TOP_K}` : String(e.rank)))),
        at_configured_threshold: { threshold: defaultThreshold, fpir: round(fpirAt(defaultThreshold), 4), fnir: round(fnirAt(defaultThreshold), 4) },
        at_fpir: atFpir,
        unenrolled_top_scores: { max: round(Math.max(...unenrolledTop), 4), median: round(median(unenrolledTop), 4) },
        enrolled_mate_scores: { min: round(Math.min(...enrolled.filter((e) => e.rank).map((e) => e.mateScore)), 4), median: round(median(enrolled.filter((e) => e.rank).map((e) => e.mateScore)), 4) },
      },
      import: { ...imported, distinct_files: photos.length, model_load_ms: round(modelLoadMs, 0), rows_kept: importCounts.photos, note: 'each line is detected, gated and embedded, repeated bytes included; the model load is not counted' },
      search: { exact: true, top_k: TOP_K, threshold: defaultThreshold, dim, synthetic_entries: synthetic, by_size: latency },
      load_average_at_end: os.loadavg().map((x) => round(x)),
    };
  } finally {
    await embedder.release();
    if (process.env.HINDSIGHT_BENCH_KEEP) log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
