import type { TrackOut } from './clip.js';

/**
 * Group tracks into subjects (distinct people), conservatively: average-linkage agglomerative clustering
 * on the tracks' mean embeddings, merging only above `mergeSimilarity` (0.5 by default, above the FAR 1e-4
 * point ~0.44 of the dev photos), and never merging two tracks seen at the same time on the same camera
 * (two faces in one frame are two people). Without embeddings (crops-only mode) every track stays its own
 * subject: nothing else can tell two tracks are one person.
 */
export function clusterTracks(tracks: readonly TrackOut[], mergeSimilarity: number): TrackOut[][] {
  const clusters: TrackOut[][] = tracks.map((t) => [t]);
  const sim = (a: TrackOut, b: TrackOut): number | undefined => {
    if (!a.embedding || !b.embedding) return undefined;
    let s = 0;
    for (let i = 0; i < a.embedding.length; i++) s += a.embedding[i]! * b.embedding[i]!;
    return s;
  };
  const together = (a: TrackOut, b: TrackOut): boolean => a.camera_id === b.camera_id && a.first_ms <= b.last_ms && b.first_ms <= a.last_ms;
  for (;;) {
    let best: { i: number; j: number; s: number } | undefined;
    for (let i = 0; i < clusters.length; i++) {
      for (let j = i + 1; j < clusters.length; j++) {
        const a = clusters[i]!;
        const b = clusters[j]!;
        if (a.some((x) => b.some((y) => together(x, y)))) continue;
        let total = 0;
        let n = 0;
        for (const x of a) {
          for (const y of b) {
            const s = sim(x, y);
            if (s === undefined) continue;
            total += s;
            n++;
          }
        }
        if (n === 0) continue;
        const avg = total / n;
        if (avg >= mergeSimilarity && (!best || avg > best.s)) best = { i, j, s: avg };
      }
    }
    if (!best) return clusters;
    clusters[best.i] = [...clusters[best.i]!, ...clusters[best.j]!];
    clusters.splice(best.j, 1);
  }
}
