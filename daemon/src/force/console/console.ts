import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { WebRepo } from '../../db/repos/web.js';
import { readScrapeToken, sendMetrics } from '../../https/metrics.js';
import { webCertificate, type WebCertificate } from '../../https/tls.js';
import { systemClock, type Clock } from '../../util/clock.js';
import { ClockSyncMonitor } from '../../util/clock-sync.js';
import { HindsightError } from '../../util/errors.js';
import type { ForceConfig } from '../config.js';
import { openForceDb, type ForceDb } from '../database.js';
import { forcePaths } from '../paths.js';
import { openWorkbench } from '../workbench-setup.js';
import { ConsoleAccounts } from './accounts.js';
import { accountsApi } from './accounts-api.js';
import { caseApi } from './case-api.js';
import { mastersApi } from './masters-api.js';
import { fleetApi } from './fleet-api.js';
import { readKeyFile } from '../../crypto/keys.js';
import { FacePictures } from './evidence-files.js';
import { buildConsoleServer } from './server.js';
import { triageApi } from './triage-api.js';
import { Cases } from './cases.js';
import { ForceMetrics } from './metrics.js';
import { consoleRoute } from './route.js';

/** Where the running console is, and what an operator needs to hand the first admin. */
export interface ConsoleAddress {
  url: string;
  port: number;
  fingerprint: string;
  /** The one-time code that makes the first admin, while there is none. */
  setupCode: string | undefined;
}

/**
 * The reviewers' web console (`hindsight-force console`): the force database with its audit log (rows
 * carry the clock's real NTP state), the workbench with its configured policy, the console's accounts,
 * and the HTTPS server with every route. The console only carries requests to the workbench: every
 * triage, search, review and export rule is the same as on the command line.
 */
export class ForceConsole {
  private app: FastifyInstance | undefined;
  private fdb: ForceDb | undefined;
  private clockTimer: NodeJS.Timeout | undefined;
  private readonly clockSync = new ClockSyncMonitor();

  constructor(
    private readonly config: ForceConfig,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
  ) {}

  async start(): Promise<ConsoleAddress> {
    const c = this.config.console;
    if (!c.enabled) throw new HindsightError('the console is turned off in the force config (console.enabled: false)', { code: 'console_off', hint: 'set console.enabled: true to use it' });
    // a scrape token file that cannot be used stops the start: the operator is there to fix it
    const scrapeToken = readScrapeToken(c.metrics_token_file, 'console.metrics_token_file');
    const certificate: WebCertificate = await webCertificate(forcePaths(this.config.force.dir).dir, c);
    await this.clockSync.refresh().catch(() => undefined);
    this.clockTimer = setInterval(() => void this.clockSync.refresh().catch(() => undefined), 60_000);
    const fdb = openForceDb(this.config.force.dir, this.clock, () => this.clockSync.current());
    this.fdb = fdb;
    const store = new WebRepo(fdb.db, this.clock);
    const accounts = new ConsoleAccounts(store, fdb.audit, this.clock, this.log, { idleMs: c.session_idle_min * 60_000, absoluteMs: c.session_max_h * 3_600_000, accountFailures: 5, ipFailures: 20, lockMs: 15 * 60_000 });
    const workbench = openWorkbench(this.config, fdb, this.clock, this.log);
    workbench.loadGalleryIndex();
    const pictures = new FacePictures(fdb.db);
    const names = (): Map<string, string> => new Map(store.accounts().map((a) => [a.id, a.name]));
    const metrics = new ForceMetrics({ db: fdb.db, clock: this.clock, cases: new Cases({ db: fdb.db, workbench, pictures, names }) });
    const app = buildConsoleServer({
      cert: certificate,
      accounts,
      log: this.log,
      scrapeToken,
      routes: [
        consoleRoute({
          method: 'GET',
          url: '/metrics',
          access: 'metrics',
          summary: "The force's figures for Prometheus (text format): intake, triage, candidate lists, review queue, fleet, the process. An admin's login or `Authorization: Bearer <console.metrics_token_file's token>`.",
          handler: ({ reply }) => sendMetrics(metrics, reply),
        }),
        ...accountsApi({ accounts, store, sessionMaxS: c.session_max_h * 3600 }),
        ...triageApi({ workbench, pictures, audit: fdb.audit }),
        ...caseApi({ db: fdb.db, audit: fdb.audit, clock: this.clock, workbench, pictures, names }),
        ...fleetApi({ db: fdb.db, audit: fdb.audit, clock: this.clock, commandKey: () => readKeyFile(forcePaths(this.config.force.dir).commandKey, 'ed25519') }),
        ...mastersApi({ db: fdb.db, audit: fdb.audit, clock: this.clock, workbench, commandKey: () => readKeyFile(forcePaths(this.config.force.dir).commandKey, 'ed25519') }),
      ],
    });
    this.app = app;
    try {
      await app.listen({ host: c.host, port: c.port });
    } catch (err) {
      await this.stop();
      throw new HindsightError(`the console cannot listen on ${c.host}:${c.port}: ${(err as Error).message}`, { code: 'console_listen', hint: 'another program uses the port: set console.port (0 picks a free one) or stop it' });
    }
    const port = (app.server.address() as AddressInfo).port;
    const host = c.host === '0.0.0.0' ? '<this server>' : c.host.includes(':') ? `[${c.host}]` : c.host;
    return { url: `https://${host}:${port}/`, port, fingerprint: certificate.fingerprint, setupCode: accounts.setupCode() };
  }

  async stop(): Promise<void> {
    clearInterval(this.clockTimer);
    await this.app?.close();
    this.app = undefined;
    this.fdb?.close();
    this.fdb = undefined;
  }
}
