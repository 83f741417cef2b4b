import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { AlarmsRepo } from '../db/repos/alarms.js';
import type { AuditActor } from '../audit/log.js';
import type { OperationContext } from '../control/operations.js';
import type { IncidentDesk } from '../incidents/desk.js';
import type { ButtonDesk } from '../incidents/presses.js';
import type { BoxSettings } from '../kernel/settings.js';
import type { AppContext } from '../kernel/context.js';
import type { Service } from '../kernel/service.js';
import { errorMessage } from '../util/errors.js';
import { webApi } from './api.js';
import { buttonApi } from './button-api.js';
import { clipApi } from './clip-api.js';
import { settingsApi } from './settings-api.js';
import { metricsRoute, statusApi, type DeviceHealth } from './status-api.js';
import { cameraApi, type BufferHealth } from './camera-api.js';
import { WebAuth } from './auth.js';
import { LiveViews } from './live.js';
import { buildWebServer } from './server.js';
import { WebRepo } from '../db/repos/web.js';
import { loadScrapeToken, type MetricsSource } from '../https/metrics.js';
import { webCertificate, type WebCertificate } from '../https/tls.js';

export const WEB_DOWN = 'web_down';
const EXPIRY_CHECK_MS = 30_000;

/**
 * The web app as a daemon service. It fronts the same desk as the control socket (one place applies every
 * rule and audit). If it cannot start (port taken, bad certificate) the daemon records and cameras go on:
 * the failure is logged and raised as an alarm, never fatal.
 */
export class WebService implements Service {
  readonly name = 'web';
  private app: FastifyInstance | undefined;
  private certificate: WebCertificate | undefined;
  private port = 0;
  private readonly live: LiveViews;
  private expiry: NodeJS.Timeout | undefined;
  readonly auth: WebAuth;
  private readonly store: WebRepo;

  constructor(
    private readonly ctx: AppContext,
    private readonly deps: { desk: IncidentDesk; buttons: ButtonDesk; settings: BoxSettings; device: () => DeviceHealth; operationContext: (actor: AuditActor) => OperationContext; bufferHealth: () => BufferHealth; metrics?: MetricsSource },
  ) {
    this.store = new WebRepo(ctx.db, ctx.clock);
    this.live = new LiveViews({ ffmpeg: ctx.config.tools.ffmpeg, timeoutS: ctx.config.recorder.rtsp_timeout_s, log: ctx.log });
    const web = ctx.config.web;
    this.auth = new WebAuth(this.store, ctx.audit, ctx.clock, ctx.log, {
      idleMs: web.session_idle_min * 60_000,
      absoluteMs: web.session_max_h * 3_600_000,
      accountFailures: 5,
      ipFailures: 20,
      lockMs: 15 * 60_000,
    });
  }

  get fingerprint(): string | undefined {
    return this.certificate?.fingerprint;
  }

  async start(): Promise<void> {
    const web = this.ctx.config.web;
    if (!web.enabled) return;
    const alarms = new AlarmsRepo(this.ctx.db, this.ctx.clock);
    // a token file that cannot be used leaves the metrics to managers' logins: said here, and to a scraper
    const scrape = loadScrapeToken(web.metrics_token_file, 'web.metrics_token_file');
    if (scrape.problem) this.ctx.log.error({ service: this.name }, `GET /metrics takes no scrape token until this is fixed: ${scrape.problem}`);
    try {
      this.certificate = await webCertificate(this.ctx.paths.stateDir, web);
      const app = buildWebServer({
        cert: this.certificate,
        auth: this.auth,
        log: this.ctx.log,
        routes: [
          ...webApi({ db: this.ctx.db, auth: this.auth, store: this.store, desk: this.deps.desk, sessionMaxS: web.session_max_h * 3600 }),
          ...cameraApi({ ctx: this.ctx, operationContext: this.deps.operationContext, bufferHealth: this.deps.bufferHealth, live: this.live }),
          ...clipApi({ ctx: this.ctx, desk: this.deps.desk }),
          ...statusApi({ ctx: this.ctx, startedAtMs: this.ctx.clock.now(), fingerprint: () => this.fingerprint, device: this.deps.device }),
          ...settingsApi({ settings: this.deps.settings }),
          ...buttonApi({ db: this.ctx.db, buttons: this.deps.buttons, desk: this.deps.desk, port: () => this.port }),
          ...(this.deps.metrics ? [metricsRoute(this.deps.metrics)] : []),
        ],
        button: (token) => this.deps.buttons.authenticate(token),
        scrape,
      });
      await app.listen({ host: web.host, port: web.port });
      this.app = app;
      const port = (app.server.address() as AddressInfo).port;
      this.port = port;
      // button presses nobody completed: their locks are released in time, even with no page open
      this.expiry = setInterval(() => {
        try {
          this.deps.buttons.expire();
        } catch (err) {
          this.ctx.log.error({ service: this.name, err }, `could not expire button presses: ${errorMessage(err)}`);
        }
      }, EXPIRY_CHECK_MS);
      alarms.clear(WEB_DOWN, 'web');
      this.ctx.log.info({ service: this.name, host: web.host, port, fingerprint: this.certificate.fingerprint }, `web app at https://${web.host === '0.0.0.0' ? '<this box>' : web.host}:${port}/ (certificate SHA-256 ${this.certificate.fingerprint})`);
      const code = this.auth.setupCode();
      if (code) this.ctx.log.warn({ service: this.name, setup_code: code }, `no manager yet: open the web app and enter the setup code ${code} (\`hindsight web setup-code\` shows it again)`);
    } catch (err) {
      const why = errorMessage(err);
      alarms.raise(WEB_DOWN, 'web', `the web app could not start: ${why}`);
      this.ctx.log.error({ service: this.name, err }, `the web app could not start (recording goes on): ${why}`);
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.expiry);
    await this.live.stopAll();
    await this.app?.close();
    this.app = undefined;
  }
}
