// The force at scale: `npm run bench -- force-scale`. One section per part of the force that grows with
// the work; each section is a function below, registered in SECTIONS, returning its own figures and its
// lines of the summary. HINDSIGHT_BENCH_FORCE_SECTIONS=gallery (comma-separated) runs only those sections.
//
// gallery: the custody gallery's search (force/gallery.ts with its index, force/gallery-index.ts) at
// HINDSIGHT_BENCH_GALLERY_SIZES entries (default 10000,100000,1000000; e.g. 10000,50000 for a quick run).
//  - Real embeddings: every photo of the dev set (HINDSIGHT_FACES_DIR, default ../shared/faces/dev) through
//    the force's own embedder. The gallery holds the first photo of each enrolled identity; every 5th
//    identity is held out (never enrolled): its photos are the unenrolled probes, the other photos of the
//    enrolled identities the enrolled probes.
//  - Distractors: the rest of each gallery, drawn from a distribution fitted to the real embeddings: their
//    mean, the top HINDSIGHT_BENCH_GALLERY_RANK (64) principal components with their variances, and the
//    remaining variance spread evenly over the other directions; each sample normalised. Random unit
//    vectors would be nearly orthogonal to every face and flatter both recall and false candidates; the
//    figures report how close the distractors come to real strangers (impostor scores of both).
//  - At each size: the index built from the database (wall time), its files, its load in a fresh process
//    (time and RSS), for the configured shortlist and expansion and each of HINDSIGHT_BENCH_GALLERY_SETTINGS
//    (e.g. 100x128,400x512: shortlist x expansion): search latency through Gallery.searchCounted (index shortlist, exact re-scoring from
//    SQLite: what a search costs the workbench), recall@10 of the index path against exact search (every
//    entry scored, from memory, for HINDSIGHT_BENCH_GALLERY_TRUTH probes, default 200), and the miss rate
//    (FNIR) of enrolled probes at the threshold that gives unenrolled probes a false-candidate rate (FPIR)
//    of 1 % and 10 %, with those thresholds.
// HINDSIGHT_BENCH_KEEP=1 keeps the temporary force folder. The figures depend on what else the 2 cores run.
// After each size, the figures so far are in bench-results/force-scale.partial.json (the 1M build is long).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { round } from './_measure.mjs';

const SECTIONS = { gallery: gallerySection };

export async function run({ root, log }) {
  const wanted = (process.env.HINDSIGHT_BENCH_FORCE_SECTIONS ?? Object.keys(SECTIONS).join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of wanted) if (!SECTIONS[s]) throw new Error(`unknown force-scale section ${s}; known: ${Object.keys(SECTIONS).join(', ')}`);
  const result = { summary: {} };
  // a long run writes what each section has measured so far, so a run stopped early keeps it
  const partialFile = path.join(root, 'bench-results', 'force-scale.partial.json');
  mkdirSync(path.dirname(partialFile), { recursive: true });
  for (const name of wanted) {
    log(`section ${name}`);
    const progress = (figures) => writeFileSync(partialFile, JSON.stringify({ ...result, [name]: figures, written: new Date().toISOString() }, null, 2) + '\n');
    const { summary, ...figures } = await SECTIONS[name]({ root, log: (m) => log(`${name}: ${m}`), progress });
    result[name] = figures;
    for (const [k, v] of Object.entries(summary)) result.summary[`${name}_${k}`] = v;
  }
  result.load_average_at_end = os.loadavg().map((x) => round(x));
  return result;
}

// ---------------------------------------------------------------------------------------------- gallery

const HOLD_OUT_EVERY = 5;
const FPIR_TARGETS = [0.01, 0.1];
const percentile = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.max(0, Math.ceil((p / 100) * xs.length) - 1))];
const mib = (bytes) => round(bytes / 2 ** 20, 1);

async function gallerySection({ root, log, progress }) {
  const sizes = (process.env.HINDSIGHT_BENCH_GALLERY_SIZES ?? '10000,100000,1000000').split(',').map(Number).sort((a, b) => a - b);
  const rank = Number(process.env.HINDSIGHT_BENCH_GALLERY_RANK ?? 64);
  const truthProbes = Number(process.env.HINDSIGHT_BENCH_GALLERY_TRUTH ?? 200);
  const dev = process.env.HINDSIGHT_FACES_DIR ?? path.resolve(root, '..', 'shared', 'faces', 'dev');
  if (!existsSync(dev)) throw new Error(`dev face photos not found at ${dev} (set HINDSIGHT_FACES_DIR): the gallery section needs real embeddings`);
  const dist = (p) => import(path.join(root, 'daemon/dist', p));
  const { openForceDb } = await dist('force/database.js');
  const { Gallery } = await dist('force/gallery.js');
  const { GalleryRepo } = await dist('force/db/gallery.js');
  const { loadPhotoEmbedder } = await dist('force/embedder.js');
  const { systemClock } = await dist('util/clock.js');
  const { ForceConfigSchema } = await dist('force/config.js');
  const defaults = Object.fromEntries(Object.entries(ForceConfigSchema.properties.gallery.properties).map(([k, v]) => [k, v.default]));
  const TOP_K = ForceConfigSchema.properties.workbench.properties.candidates_top_k.default;

  // 1. real embeddings of the dev photos
  const embedder = await loadPhotoEmbedder();
  const ids = readdirSync(dev, { withFileTypes: true }).filter((d) => d.isDirectory() && !d.name.startsWith('_')).map((d) => d.name).sort();
  const real = []; // { id, n, embedding }
  let failed = 0;
  try {
    for (const id of ids) {
      const files = readdirSync(path.join(dev, id)).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
      for (const [n, f] of files.entries()) {
        const r = await embedder.embedPhoto(`${id}/${f}`, readFileSync(path.join(dev, id, f)), 'centre');
        if ('reason' in r) failed++;
        else real.push({ id, n, embedding: r.embedding });
      }
    }
  } finally {
    await embedder.release();
  }
  const model = embedder.model;
  const dim = real[0].embedding.length;
  log(`${real.length} real embeddings of ${ids.length} identities (${failed} photos failed the gate), ${dim} dimensions`);
  const heldOut = new Set(ids.filter((_, i) => i % HOLD_OUT_EVERY === HOLD_OUT_EVERY - 1));
  const enrolledFirst = new Map();
  for (const r of real) if (!heldOut.has(r.id) && !enrolledFirst.has(r.id)) enrolledFirst.set(r.id, r);
  const enrolledProbes = real.filter((r) => !heldOut.has(r.id) && enrolledFirst.get(r.id) !== r);
  const unenrolledProbes = real.filter((r) => heldOut.has(r.id));

  // 2. the distribution of distractors, fitted to every real embedding
  const fit = fitDistribution(real.map((r) => r.embedding), rank);
  const impostors = {
    real: impostorScores(real.filter((r) => !heldOut.has(r.id)).map((r) => [r.id, r.embedding]), unenrolledProbes),
    distractors: impostorScores(Array.from({ length: 2000 }, (_, i) => [`D${i}`, fit.sample()]), unenrolledProbes),
  };
  log(`fitted: ${rank} components hold ${round(fit.explained, 3)} of the variance; stranger scores real p99 ${impostors.real.p99}, distractors p99 ${impostors.distractors.p99}`);

  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-bench-force-scale-'));
  const indexDir = path.join(dir, 'gallery', 'index');
  const fdb = openForceDb(dir);
  const repo = new GalleryRepo(fdb.db);
  const indexOptions = { dir: indexDir, minPhotos: 0, shortlist: defaults.index_shortlist, expansion: defaults.index_expansion };
  // the configured defaults first (the summary's figures), then HINDSIGHT_BENCH_GALLERY_SETTINGS, e.g. 100x128,400x512
  const settings = [[indexOptions.shortlist, indexOptions.expansion], ...(process.env.HINDSIGHT_BENCH_GALLERY_SETTINGS ?? '').split(',').filter(Boolean).map((x) => x.split('x').map(Number))];
  const vectors = new Float32Array(sizes.at(-1) * dim); // every entry, for exact search from memory
  const persons = [];
  const add = (personRef, e) => {
    repo.upsertPerson(personRef, 1);
    repo.addPhoto({ photoId: personRef, personRef, file: 'p.jpg', sha256: '0'.repeat(64), storedPath: '/none', captured: '2025-01-01', source: 'bench', model, embedding: Buffer.from(e.buffer, e.byteOffset, e.byteLength), faceScore: 1, addedUtc: 1 });
    vectors.set(e, persons.length * dim);
    persons.push(personRef);
  };
  fdb.db.transaction(() => {
    for (const r of enrolledFirst.values()) add(r.id, r.embedding);
  })();
  const bySize = [];
  try {
    for (const size of sizes) {
      let t = performance.now();
      while (persons.length < size) {
        fdb.db.transaction(() => {
          for (let i = 0; i < 10_000 && persons.length < size; i++) add(`D${persons.length}`, fit.sample());
        })();
      }
      const fillS = (performance.now() - t) / 1000;
      log(`${size} entries (${enrolledFirst.size} real, ${size - enrolledFirst.size} distractors) in the database (${round(fillS, 1)} s)`);

      rmSync(indexDir, { recursive: true, force: true });
      const gallery = new Gallery({ db: fdb.db, audit: fdb.audit, clock: systemClock, photosDir: path.join(dir, 'photos'), index: indexOptions });
      const rssBefore = process.memoryUsage().rss;
      t = performance.now();
      gallery.loadIndex();
      const buildS = (performance.now() - t) / 1000;
      const files = Object.fromEntries(readdirSync(indexDir).map((n) => [path.extname(n).slice(1), mib(statSync(path.join(indexDir, n)).size)]));
      log(`index built and saved in ${round(buildS, 1)} s (files MiB ${JSON.stringify(files)})`);
      const loaded = loadInFreshProcess(root, dir, indexOptions);
      log(`index loaded in a fresh process in ${loaded.load_s} s, RSS ${loaded.rss_mib} MiB`);

      const probes = [...enrolledProbes, ...unenrolledProbes];
      const truthSet = probes.filter((_, i) => i % Math.max(1, Math.floor(probes.length / truthProbes)) === 0).slice(0, truthProbes);
      t = performance.now();
      const truth = new Map(truthSet.map((p) => [p, exactTop(vectors, persons.length, dim, p.embedding, TOP_K).map((i) => persons[i])]));
      log(`exact top ${TOP_K} of ${truthSet.length} probes in ${round((performance.now() - t) / 1000, 1)} s`);
      const bySetting = [];
      for (const [shortlist, expansion] of settings) {
        // each setting through the workbench's search on the saved index, every real probe twice round
        const g = shortlist === indexOptions.shortlist && expansion === indexOptions.expansion ? gallery : new Gallery({ db: fdb.db, audit: fdb.audit, clock: systemClock, photosDir: path.join(dir, 'photos'), index: { ...indexOptions, shortlist, expansion } });
        g.loadIndex();
        const ms = [];
        const viaIndex = new Map();
        for (let turn = 0; turn < 2; turn++) {
          for (const p of probes) {
            const s = performance.now();
            const r = g.searchCounted(p.embedding, model, TOP_K, -Infinity);
            ms.push(performance.now() - s);
            viaIndex.set(p, r.matches);
          }
        }
        let hits = 0;
        for (const p of truthSet) {
          const found = new Set(viaIndex.get(p).map((m) => m.personRef));
          hits += truth.get(p).filter((ref) => found.has(ref)).length;
        }
        const recall = hits / (truthSet.length * TOP_K);
        // the miss rate at a fixed false-candidate rate, and the threshold it needs
        const unenrolledTop = unenrolledProbes.map((p) => viaIndex.get(p)[0]?.score ?? -1);
        const mates = enrolledProbes.map((p) => viaIndex.get(p).find((m) => m.personRef === p.id)?.score ?? -Infinity);
        const atFpir = FPIR_TARGETS.map((target) => {
          const thr = thresholdAtFpir(unenrolledTop, target);
          return { fpir_target: target, threshold: round(thr, 4), fpir: round(unenrolledTop.filter((x) => x >= thr).length / unenrolledTop.length, 4), fnir: round(mates.filter((x) => !(x >= thr)).length / mates.length, 4) };
        });
        bySetting.push({ shortlist, expansion, searches: ms.length, p50_ms: round(percentile(ms, 50), 2), p95_ms: round(percentile(ms, 95), 2), max_ms: round(Math.max(...ms), 2), recall_at_10: round(recall, 4), at_fpir: atFpir });
        log(`shortlist ${shortlist}, expansion ${expansion}: p50 ${round(percentile(ms, 50), 2)} ms, p95 ${round(percentile(ms, 95), 2)} ms, recall@10 ${round(recall, 4)}; at FPIR 1 %: threshold ${atFpir[0].threshold}, FNIR ${atFpir[0].fnir}; at 10 %: ${atFpir[1].threshold}, ${atFpir[1].fnir}`);
      }
      const [chosen] = bySetting;
      bySize.push({
        entries: size,
        real_persons: enrolledFirst.size,
        distractors: size - enrolledFirst.size,
        database_fill_s: round(fillS, 1),
        index: { build_s: round(buildS, 1), build_rss_growth_mib: mib(process.memoryUsage().rss - rssBefore), files_mib: files, ...loaded },
        probes: { enrolled: enrolledProbes.length, unenrolled: unenrolledProbes.length, recall: truthSet.length },
        search: chosen,
        other_settings: bySetting.slice(1),
      });
      progress({ model, dim, by_size: bySize });
    }
  } finally {
    fdb.close();
    if (process.env.HINDSIGHT_BENCH_KEEP) log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
  const summary = {};
  for (const s of bySize) {
    const k = s.entries >= 1e6 ? `${s.entries / 1e6}m` : `${s.entries / 1e3}k`;
    Object.assign(summary, {
      [`${k}_p50_ms`]: s.search.p50_ms,
      [`${k}_p95_ms`]: s.search.p95_ms,
      [`${k}_recall_at_10`]: s.search.recall_at_10,
      [`${k}_threshold_at_fpir_0_01`]: s.search.at_fpir[0].threshold,
      [`${k}_fnir_at_fpir_0_01`]: s.search.at_fpir[0].fnir,
      [`${k}_build_s`]: s.index.build_s,
      [`${k}_load_s`]: s.index.load_s,
      [`${k}_load_rss_mib`]: s.index.rss_mib,
    });
  }
  return {
    summary,
    model,
    dim,
    real: { identities: ids.length, embeddings: real.length, failed_gate: failed, enrolled_identities: enrolledFirst.size, enrolled_probes: enrolledProbes.length, unenrolled_probes: unenrolledProbes.length },
    distractors: { fitted_components: rank, explained_variance: round(fit.explained, 4), residual_sd_per_dim: round(fit.residualSd, 5), stranger_scores: impostors },
    index: { library: 'usearch', quantization: 'f16', metric: 'inner product', shortlist: defaults.index_shortlist, expansion: defaults.index_expansion, top_k: TOP_K },
    by_size: bySize,
  };
}

/** Mean, top principal components (block power iteration on the covariance) and residual variance; a sampler. */
function fitDistribution(embeddings, rank) {
  const n = embeddings.length;
  const d = embeddings[0].length;
  const mean = new Float64Array(d);
  for (const e of embeddings) for (let i = 0; i < d; i++) mean[i] += e[i] / n;
  const cov = new Float64Array(d * d);
  for (const e of embeddings) {
    for (let i = 0; i < d; i++) {
      const ci = e[i] - mean[i];
      for (let j = i; j < d; j++) cov[i * d + j] += (ci * (e[j] - mean[j])) / (n - 1);
    }
  }
  for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) cov[i * d + j] = cov[j * d + i];
  let total = 0;
  for (let i = 0; i < d; i++) total += cov[i * d + i];
  // block power iteration: Q <- orth(C Q)
  let q = Array.from({ length: rank }, () => Float64Array.from({ length: d }, gauss));
  orthonormalise(q);
  for (let it = 0; it < 60; it++) {
    q = q.map((v) => matVec(cov, v, d));
    orthonormalise(q);
  }
  const variances = q.map((v) => dot(v, matVec(cov, v, d)));
  const explained = variances.reduce((a, b) => a + b, 0);
  const residualSd = Math.sqrt(Math.max(0, total - explained) / (d - rank));
  const sd = variances.map((x) => Math.sqrt(Math.max(0, x)));
  return {
    explained: explained / total,
    residualSd,
    sample() {
      const v = new Float32Array(d);
      for (let i = 0; i < d; i++) v[i] = mean[i] + residualSd * gauss();
      for (let k = 0; k < rank; k++) {
        const c = sd[k] * gauss();
        const u = q[k];
        for (let i = 0; i < d; i++) v[i] += c * u[i];
      }
      let norm = 0;
      for (let i = 0; i < d; i++) norm += v[i] * v[i];
      norm = Math.sqrt(norm);
      for (let i = 0; i < d; i++) v[i] /= norm;
      return v;
    },
  };
}

function matVec(m, v, d) {
  const out = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let s = 0;
    const row = i * d;
    for (let j = 0; j < d; j++) s += m[row + j] * v[j];
    out[i] = s;
  }
  return out;
}

function orthonormalise(vs) {
  for (let k = 0; k < vs.length; k++) {
    for (let j = 0; j < k; j++) {
      const p = dot(vs[k], vs[j]);
      for (let i = 0; i < vs[k].length; i++) vs[k][i] -= p * vs[j][i];
    }
    const n = Math.sqrt(dot(vs[k], vs[k]));
    for (let i = 0; i < vs[k].length; i++) vs[k][i] /= n;
  }
}

function dot(a, b) {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function gauss() {
  return Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
}

/** Scores of strangers: each unenrolled probe against every entry of another identity (p50, p99, max). */
function impostorScores(entries, probes) {
  const scores = [];
  for (const p of probes) for (const [id, e] of entries) if (id !== p.id) scores.push(dot(p.embedding, e));
  return { pairs: scores.length, p50: round(percentile(scores, 50), 4), p99: round(percentile(scores, 99), 4), max: round(scores.reduce((a, b) => Math.max(a, b), -Infinity), 4) };
}

/** Indices of the `k` entries with the highest inner product with `probe`: every entry compared. */
function exactTop(vectors, count, dim, probe, k) {
  const best = []; // [score, index], ascending, at most k
  for (let j = 0; j < count; j++) {
    let s = 0;
    const o = j * dim;
    for (let i = 0; i < dim; i++) s += vectors[o + i] * probe[i];
    if (best.length < k || s > best[0][0]) {
      best.push([s, j]);
      best.sort((a, b) => a[0] - b[0]);
      if (best.length > k) best.shift();
    }
  }
  return best.reverse().map(([, j]) => j);
}

/** The smallest threshold (to 1e-6) at which at most `fpir` of the unenrolled probes get a candidate. */
function thresholdAtFpir(unenrolledTop, fpir) {
  const desc = [...unenrolledTop].sort((a, b) => b - a);
  const allowed = Math.floor(fpir * desc.length + 1e-9);
  return allowed >= desc.length ? -1 : desc[allowed] + 1e-6;
}

/** The saved index loaded by a new node process through the force's own code: seconds and RSS after. */
function loadInFreshProcess(root, dir, options) {
  const script = `
    const t0 = performance.now();
    const { openForceDb } = await import(${JSON.stringify(path.join(root, 'daemon/dist/force/database.js'))});
    const { Gallery } = await import(${JSON.stringify(path.join(root, 'daemon/dist/force/gallery.js'))});
    const { systemClock } = await import(${JSON.stringify(path.join(root, 'daemon/dist/util/clock.js'))});
    const fdb = openForceDb(${JSON.stringify(dir)});
    const lines = [];
    const log = { info: (o, m) => lines.push(m), warn: (o, m) => lines.push(m) };
    const rss0 = process.memoryUsage().rss;
    const t1 = performance.now();
    new Gallery({ db: fdb.db, audit: fdb.audit, clock: systemClock, photosDir: '/none', index: { ...${JSON.stringify(options)}, log } }).loadIndex();
    const t2 = performance.now();
    process.stdout.write(JSON.stringify({ load_s: (t2 - t1) / 1000, rss_mib: process.memoryUsage().rss / 2 ** 20, rss_before_mib: rss0 / 2 ** 20, lines }));
    fdb.close();
  `;
  const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, maxBuffer: 1 << 20 }).toString());
  if (!out.lines.includes('gallery index loaded')) throw new Error(`the saved index was not loaded: ${out.lines.join('; ')}`);
  return { load_s: round(out.load_s, 2), rss_mib: round(out.rss_mib, 0), rss_before_load_mib: round(out.rss_before_mib, 0) };
}
