import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import type { Service } from '../app/service.js';
import { HindsightError } from '../util/errors.js';
import { controlPaths } from './paths.js';

/**
 * The daemon's local control API: HTTP over a unix socket that only the daemon's user can open, plus a
 * bearer token in an owner-only file (defence in depth if the socket's folder is ever shared).
 * The CLI talks to the running daemon through it, so the daemon stays the single writer of incidents
 * and every rule (limits, validation, audit) is applied in one place.
 */
export class ControlServer implements Service {
  readonly name = 'control';
  private app: FastifyInstance | undefined;
  private token = '';
  private readonly plugins: FastifyPluginAsync[] = [];

  constructor(
    private readonly stateDir: string,
    private readonly log: Logger,
  ) {}

  /** Add routes; call before start(). */
  register(plugin: FastifyPluginAsync): void {
    this.plugins.push(plugin);
  }

  async start(): Promise<void> {
    const { socket, token } = controlPaths(this.stateDir);
    this.token = randomBytes(32).toString('hex');
    writeFileSync(token, this.token + '\n', { mode: 0o600 });
    chmodSync(token, 0o600);
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
    });
    app.setErrorHandler((err, _req, reply) => {
      if (err instanceof HindsightError) {
        const status = (err as HindsightError & { status?: number }).status ?? 400;
        return reply.code(status).send({ error: err.code, message: err.message, hint: err.hint });
      }
      const e = err as { validation?: unknown; statusCode?: number; message: string };
      if (e.validation) return reply.code(400).send({ error: 'bad_request', message: e.message });
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
    const { socket, token } = controlPaths(this.stateDir);
    rmSync(socket, { force: true });
    rmSync(token, { force: true });
  }
}
