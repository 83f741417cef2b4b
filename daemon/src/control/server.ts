import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, rmSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import { HindsightError, UsageError } from '../util/errors.js';
import { createExclusiveFile, ensurePrivateDir } from '../util/secure-fs.js';
import { assertWellFormedText } from '../util/text.js';
import { describeValidation, type ValidationIssue } from '../util/validation-words.js';
import { controlPaths } from './paths.js';
import { PEER_HEADER, peerActor, preparePeerDir, provenPeer, setCaller } from './peer.js';

/**
 * The daemon's local control API: HTTP over a unix socket that only the daemon's user can open, plus a
 * bearer token in an owner-only file (defence in depth if the socket's folder is ever shared). Each
 * request also proves its caller's user (peer.ts): the audit names that user, not a name it claims.
 * The CLI talks to the running daemon through it, so the daemon stays the single writer of incidents
 * and every rule (limits, validation, audit) is applied in one place.
 */
/** A daemon service (start/stop) by shape: control sits below the kernel so features can register operations. */
export class ControlServer {
  readonly name = 'control';
  private app: FastifyInstance | undefined;
  private token = '';
  private readonly plugins: FastifyPluginAsync[] = [];

  constructor(
    private readonly runtimeDir: string,
    private readonly log: Logger,
  ) {}

  /** Add routes; call before start(). */
  register(plugin: FastifyPluginAsync): void {
    this.plugins.push(plugin);
  }

  async start(): Promise<void> {
    const { socket, token } = controlPaths(this.runtimeDir);
    this.token = randomBytes(32).toString('hex');
    // the runtime folder: systemd's RuntimeDirectory, else made owner-only here
    ensurePrivateDir(this.runtimeDir, 0o700);
    // A new file each start (a stale one, or a link put in its place, is removed, never written through).
    rmSync(token, { force: true });
    createExclusiveFile(token, this.token + '\n');
    preparePeerDir(this.runtimeDir);
    const app = Fastify({
      logger: false,
      bodyLimit: 64 * 1024,
      // Strict validation: unknown fields are errors, types are never coerced (Fastify's defaults do both).
      ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true } },
    });
    app.addHook('onRequest', async (req, reply) => {
      const given = Buffer.from(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
      const want = Buffer.from(this.token);
      if (given.length !== want.length || !timingSafeEqual(given, want)) {
        return reply.code(401).send({ error: 'unauthorized', message: 'missing or wrong control token', hint: 'run the command as root or as the hindsight user' });
      }
      try {
        const proof = req.headers[PEER_HEADER];
        setCaller(req.raw, peerActor(provenPeer(this.runtimeDir, typeof proof === 'string' ? proof : undefined, Date.now())));
      } catch (err) {
        const e = err as HindsightError;
        this.log.warn({ service: this.name, url: req.url }, e.message);
        return reply.code(401).send({ error: 'unauthorized', message: e.message, hint: e.hint });
      }
    });
    // JSON may carry a lone surrogate ("\ud800"), which no database, file or log stores as it was sent
    app.addHook('preValidation', async (req) => {
      assertWellFormedText(req.body, 'the request');
      assertWellFormedText({ params: req.params, query: req.query }, 'the request');
    });
    app.setErrorHandler((err, _req, reply) => {
      if (err instanceof HindsightError) {
        // bad input is 400 (the CLI exits 2); a refusal of a valid request is 409 (exit 1)
        const status = (err as HindsightError & { status?: number }).status ?? (err instanceof UsageError ? 400 : 409);
        return reply.code(status).send({ error: err.code, message: err.message, hint: err.hint });
      }
      const e = err as { validation?: unknown; statusCode?: number; message: string };
      if (e.validation) return reply.code(400).send({ error: 'bad_request', message: describeValidation(e.validation as ValidationIssue[]) });
      if (e.statusCode && e.statusCode < 500) return reply.code(e.statusCode).send({ error: 'bad_request', message: e.message });
      this.log.error({ service: this.name, err }, 'control request failed');
      return reply.code(500).send({ error: 'internal', message: 'the daemon could not do that; see its log' });
    });
    for (const p of this.plugins) await app.register(p);
    rmSync(socket, { force: true }); // a socket file left by a crash
    await app.listen({ path: socket });
    chmodSync(socket, 0o600);
    this.app = app;
  }

  async stop(): Promise<void> {
    await this.app?.close();
    this.app = undefined;
    const { socket, token } = controlPaths(this.runtimeDir);
    rmSync(socket, { force: true });
    rmSync(token, { force: true });
  }
}
