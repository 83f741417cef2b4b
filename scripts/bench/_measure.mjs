// Shared measuring tools for benchmarks: CPU and RSS of a process tree from /proc.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

const CLK_TCK = 100; // Linux USER_HZ
const PAGE = 4096;

/** utime+stime (seconds) and RSS (bytes) of one pid, or undefined when it is gone. */
export function procStat(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // childrenCpuS: CPU of children that ended and were reaped (short-lived helpers such as decode checks)
    return { ppid: Number(f[1]), cpuS: (Number(f[11]) + Number(f[12])) / CLK_TCK, childrenCpuS: (Number(f[13]) + Number(f[14])) / CLK_TCK, rssBytes: Number(f[21]) * PAGE, comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) };
  } catch {
    return undefined;
  }
}

export function allPids() {
  return readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number);
}

/** Descendants of pid (not including it). */
export function treePids(pid) {
  const byParent = new Map();
  for (const p of allPids()) {
    const s = procStat(p);
    if (!s) continue;
    if (!byParent.has(s.ppid)) byParent.set(s.ppid, []);
    byParent.get(s.ppid).push(p);
  }
  const out = [];
  const walk = (p) => {
    for (const c of byParent.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/**
 * Sample CPU and RSS of the given pids over `seconds`; returns CPU as % of one core and mean/peak RSS.
 */
export async function sampleUsage(pids, seconds, intervalMs = 500) {
  const start = new Map(pids.map((p) => [p, procStat(p)]));
  const t0 = performance.now();
  const rss = new Map(pids.map((p) => [p, []]));
  while (performance.now() - t0 < seconds * 1000) {
    await new Promise((r) => setTimeout(r, intervalMs));
    for (const p of pids) {
      const s = procStat(p);
      if (s) rss.get(p).push(s.rssBytes);
    }
  }
  const wall = (performance.now() - t0) / 1000;
  const out = {};
  for (const p of pids) {
    const a = start.get(p);
    const b = procStat(p);
    const samples = rss.get(p);
    out[p] = {
      comm: b?.comm ?? a?.comm,
      cpu_pct_of_core: a && b ? ((b.cpuS - a.cpuS) / wall) * 100 : null,
      rss_mb_mean: samples.length ? samples.reduce((x, y) => x + y, 0) / samples.length / 2 ** 20 : null,
      rss_mb_peak: samples.length ? Math.max(...samples) / 2 ** 20 : null,
    };
  }
  return { wall_s: wall, per_pid: out };
}

export const round = (x, d = 2) => (x === null || x === undefined ? x : Math.round(x * 10 ** d) / 10 ** d);

/** The q-quantile (0..1) of xs by the nearest-rank method, or null when there is none. */
export const pct = (xs, q) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
};

/** p50, p95, max and count of xs, rounded to d decimals. */
export const stats = (xs, d = 1) => ({ p50: round(pct(xs, 0.5), d), p95: round(pct(xs, 0.95), d), max: round(xs.length ? Math.max(...xs) : null, d), n: xs.length });

/** A size field of /proc/PID/status (VmRSS, VmHWM...) in bytes, or null when the process is gone. */
export function statusBytes(pid, key) {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Open file descriptors of a process by kind (socket, pipe, anon_inode, dev, file) and the files open, or null when it is gone. */
export function openFds(pid) {
  let fds;
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return null;
  }
  const kinds = {};
  const files = [];
  for (const fd of fds) {
    let target;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    const kind = /^(socket|pipe|anon_inode):/.exec(target)?.[1] ?? (target.startsWith('/dev/') ? 'dev' : 'file');
    kinds[kind] = (kinds[kind] ?? 0) + 1;
    if (kind === 'file') files.push(target);
  }
  return { count: Object.values(kinds).reduce((a, b) => a + b, 0), kinds, files: files.sort() };
}

/** Least-squares slope of y over x for points [{x, y}], or null with fewer than two distinct x. */
export function slope(points) {
  const n = points.length;
  if (n < 2) return null;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  const sxx = points.reduce((a, p) => a + (p.x - mx) ** 2, 0);
  if (sxx === 0) return null;
  return points.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0) / sxx;
}
