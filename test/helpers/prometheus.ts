/** One sample of Prometheus's text exposition format: its name, labels and value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parse a scrape (comments skipped); a line that is not a sample fails the parse, so a malformed answer shows. */
export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    // Prometheus reads NaN in any case (prom-client writes `Nan`)
    if (Number.isNaN(value) && !/^nan$/i.test(m[3]!)) throw new Error(`not a number in: ${line}`);
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** The value of the one sample named `name` whose labels include `labels` (undefined: none; two: an error). */
export function sampleValue(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (hits.length > 1) throw new Error(`${hits.length} samples of ${name} ${JSON.stringify(labels)}`);
  return hits[0]?.value;
}

/** The `# HELP` lines' metric names: what the scrape declares. */
export function declaredNames(text: string): string[] {
  return [...text.matchAll(/^# HELP (\S+) /gm)].map((m) => m[1]!);
}
