import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { HindsightError } from '../util/errors.js';
import { ownerOnly, readNoFollow } from '../util/secure-fs.js';
import { WebError } from './error.js';

/*
 * Prometheus `/metrics` on a web app's HTTPS server (the box's and the force console's): a private registry
 * per process with Node's own figures (event-loop lag among them), values read at scrape time, and who may
 * scrape: a logged-in account of the app's top role, or a scraper with the bearer token from a file only
 * the service's user can read.
 */

/** A scrape token: visible ASCII, long enough not to be guessed. */
const TOKEN = /^[\x21-\x7e]{32,512}$/;
const BEARER = /^Bearer ([\x21-\x7e]{1,512})$/;

/** The access level of the `/metrics` route in both apps. */
export const METRICS_ACCESS = 'metrics' as const;

/** A registry of its own with Node's process figures (CPU, memory, event-loop lag, GC...) on it. */
export function metricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * A gauge whose values are set at each scrape by `collect` (which resets it first: a camera gone leaves no
 * stale series; a gauge without labels reads 0 unless set).
 */
export function scrapeGauge<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[], collect: (g: Gauge<L>) => void | Promise<void>): Gauge<L> {
  return new Gauge<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    async collect() {
      this.reset();
      await collect(this);
    },
  });
}

/**
 * The scrape token of `key` (a config key naming a file): the file's one line, refused if anyone but its
 * owner may read it, or if it is missing, empty or too short. Empty `file`: no token (sessions only).
 */
export function readScrapeToken(file: string, key: string): string | undefined {
  if (!file) return undefined;
  let text: string;
  try {
    text = readNoFollow(file, ownerOnly(file, `run: chmod 600 ${file} (owned by the service's user); the token is a secret like a password`)).data.toString('utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new HindsightError(`the scrape token file ${file} (${key}) does not exist`, { code: 'metrics_token_missing', hint: `write a random token of 32 or more characters into it (mode 600), or empty ${key}` });
    if (err instanceof HindsightError) throw new HindsightError(`the scrape token file (${key}): ${err.message}`, { code: err.code, hint: err.hint });
    throw new HindsightError(`cannot read the scrape token file ${file} (${key}): ${(err as Error).message}`, { code: 'metrics_token_unreadable', hint: "the service's user must be able to read it" });
  }
  const token = text.trim();
  if (!TOKEN.test(token)) {
    throw new HindsightError(`the scrape token in ${file} (${key}) is not 32 to 512 visible characters on one line`, {
      code: 'metrics_token_invalid',
      hint: 'put a random token of 32 or more letters and digits in it, e.g. from `head -c 32 /dev/urandom | base64`',
    });
  }
  return token;
}

/** The scrape token in use (none: sessions only), or why the configured one could not be used. */
export interface ScrapeToken {
  token?: string;
  problem?: string;
}

/** `readScrapeToken`, its failure kept as the reason (said in the log at start and to a scraper that sends a token). */
export function loadScrapeToken(file: string, key: string): ScrapeToken {
  try {
    return { token: readScrapeToken(file, key) };
  } catch (err) {
    const e = err as HindsightError;
    return { problem: e.hint ? `${e.message} (${e.hint})` : e.message };
  }
}

/** Whether `given` is the token, in constant time (both hashed first, so their lengths say nothing). */
function sameToken(given: string, token: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

/**
 * Who may read `/metrics`: with an `Authorization: Bearer` header, only the scrape token (a wrong one is
 * refused, whatever session comes with it); else a logged-in account that `mayScrape` accepts. `key` is the
 * config key of the token file, named in the refusal so an operator knows what to set up.
 */
export function authorizeScrape(req: FastifyRequest, o: { token: ScrapeToken; key: string; loggedIn: boolean; mayScrape: boolean; role: string }): void {
  const header = req.headers.authorization;
  const { token, problem } = o.token;
  if (header !== undefined) {
    const given = BEARER.exec(String(header))?.[1];
    if (token !== undefined && given !== undefined && sameToken(given, token)) return;
    if (problem) throw new WebError(401, `the scrape token is not usable: ${problem}`, { code: 'bad_scrape_token', hint: `fix ${o.key} and restart` });
    throw new WebError(401, token === undefined ? 'no scrape token is set up here' : 'wrong scrape token', {
      code: 'bad_scrape_token',
      hint: token === undefined ? `set ${o.key} to a file (mode 600) holding a random token, restart, and send it as \`Authorization: Bearer <token>\`` : `send the token in ${o.key} as \`Authorization: Bearer <token>\``,
    });
  }
  if (o.mayScrape) return;
  if (o.loggedIn) throw new WebError(403, `only ${o.role} can read the metrics`, { code: 'metrics_forbidden' });
  throw new WebError(401, `the metrics need the scrape token or ${o.role}'s login`, {
    code: 'metrics_unauthorized',
    hint: `for Prometheus: set ${o.key} to a file (mode 600) holding a random token, restart, and send it as \`Authorization: Bearer <token>\``,
  });
}

/** What a web app serves at /metrics: one scrape's text (Prometheus's format) and its content type. */
export interface MetricsSource {
  readonly contentType: string;
  scrape(): Promise<string>;
}

/** Answer a scrape, never cached. */
export async function sendMetrics(source: MetricsSource, reply: FastifyReply): Promise<FastifyReply> {
  const text = await source.scrape();
  return reply.type(source.contentType).header('cache-control', 'no-store').send(text);
}
