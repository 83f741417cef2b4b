import type { Command } from 'commander';
import { daemonPaths } from '../../config/paths.js';
import { callRoute } from '../../control/client.js';
import { INCIDENT_API } from '../../incidents/api.js';
import { REASON_CODES, REASON_LABELS, WAIT_EVENT_LABELS, type ReasonCode } from '../../incidents/model.js';
import type { IncidentView } from '../../incidents/desk.js';
import { sleep } from '../../util/clock.js';
import { intInRange, intOption } from '../../program/args.js';
import { UsageError } from '../../util/errors.js';
import { CONFIG_OPTION, loadCliConfig } from '../config-file.js';
import { table } from '../../program/output.js';

interface Common {
  config?: string;
  json?: boolean;
}

function runtimeDir(opts: Common): string {
  return daemonPaths(loadCliConfig(opts.config)).runtimeDir;
}

/** The person at the terminal, as an id the daemon accepts. */
const time = (ms: number | null | undefined): string => (ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '-');

/** "in 4 min", "in 40 s": how long until a time, for people. */
function until(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((ms - now) / 1000));
  if (s < 90) return `in ${s} s`;
  if (s < 5400) return `in ${Math.round(s / 60)} min`;
  return `in ${(s / 3600).toFixed(1)} h`;
}

/** What a failed incident waits for and what to do, in one line. */
export function waitLine(i: IncidentView): string {
  const of = i.maxAttempts ? ` of ${i.maxAttempts}` : '';
  if (!i.wait) return '';
  if (i.wait.kind === 'retry') return `attempt ${i.attempts}${of} failed; next attempt at ${time(i.wait.atMs)} UTC (${until(i.wait.atMs)})`;
  if (i.wait.kind === 'event') return `waiting for ${WAIT_EVENT_LABELS[i.wait.event]}; it resumes by itself (no attempt used)`;
  return `waiting for a person: \`hindsight incident retry ${i.id}\` once the cause is fixed, or \`hindsight incident cancel ${i.id} --justification TEXT\``;
}

function describe(i: IncidentView): string {
  const lines = [
    `incident ${i.id}`,
    `  state        ${i.state}${i.state === 'failed' && i.failedState ? ` while ${i.failedState}` : ''}${i.queuePosition ? `, number ${i.queuePosition} in the queue` : ''}`,
  ];
  if (i.state === 'failed') {
    lines.push(`  why          ${i.failure ?? 'unknown'}`);
    lines.push(`  next         ${waitLine(i)}`);
    lines.push(`  attempts     ${i.attempts} (a person is asked after ${i.maxAttempts})`);
  }
  lines.push(
    `  reason       ${REASON_LABELS[i.reason] ?? i.reason}: ${i.justification}`,
    `  logged       ${time(i.loggedAtMs)} UTC by ${i.loggedBy.type} ${i.loggedBy.id}`,
    `  window       ${time(i.windowFromMs)} .. ${time(i.windowToMs)} UTC (incident at ${time(i.incidentAtMs)})`,
  );
  for (const c of i.cameras) {
    const cov = c.coverage === null ? '' : `, coverage ${(c.coverage * 100).toFixed(1)} %${c.gaps ? `, ${c.gaps} gap${c.gaps === 1 ? '' : 's'}` : ''}`;
    lines.push(`  camera ${c.cameraId.padEnd(10)} clip ${c.clipState}${cov}${c.clipSha256 ? `, sha256 ${c.clipSha256}` : ''}${c.error ? ` (${c.error})` : ''}`);
  }
  const p = i.progress;
  if (p?.stage === 'faces') lines.push(`  faces        looking: ${p.frames_done} of ${p.frames_total} frames (${p.frames_total ? Math.floor((100 * p.frames_done) / p.frames_total) : 0} %)`);
  if (p?.stage === 'faces_done') lines.push(`  faces        ${p.subjects ?? 0} ${p.subjects === 1 ? 'person' : 'people'} found, ${p.crops ?? 0} pictures kept, in ${p.frames_total} frames`);
  const d = i.delivery;
  if (d) {
    const sent = d.lastSentUtc ? `sent ${time(d.lastSentUtc)} UTC (attempt ${d.attempts})` : 'not sent yet';
    const how = d.state === 'delivered' ? `received by the force ${time(d.deliveredUtc)} UTC` : `${sent}, waiting for the force's receipt${d.lastError ? `; last error: ${d.lastError}` : ''}`;
    lines.push(`  delivery     envelope ${d.envelopeId}, ${Math.ceil(d.bytes / 1024)} KB: ${how}`);
  }
  return lines.join('\n') + '\n';
}

/** The list's last column: queue place, or for a failed incident why and what it waits for. */
function note(i: IncidentView): string {
  if (i.state === 'failed') {
    const w = i.wait;
    const next = !w ? '' : w.kind === 'retry' ? `retry ${until(w.atMs)}` : w.kind === 'event' ? `waits for ${w.event === 'enrolled' ? 'enrollment' : 'outbox space'}` : 'a person must act';
    return `${next} (attempts ${i.attempts}): ${i.failure ?? ''}`;
  }
  return i.queuePosition ? `queue ${i.queuePosition}` : '';
}

export function registerIncident(program: Command): void {
  const incident = program.command('incident').description('log, list, show, cancel or retry incidents (talks to the running daemon)');
  const withCommon = (cmd: Command): Command =>
    cmd.option(...CONFIG_OPTION).option('--json', 'print JSON');

  withCommon(
    incident
      .command('log')
      .description('log an incident: lock its window of footage at once and cut master clips')
      .option('--at <when>', 'when it happened: "now", "20 minutes ago", "-90s" or an ISO time with a zone', 'now')
      .option('--before <seconds>', 'window start, seconds before the incident time (default from config)')
      .option('--after <seconds>', 'window end, seconds after the incident time (default from config)')
      .option('--camera <id...>', 'camera id(s) that saw it')
      .option('--zone <zone>', 'every camera in this zone (e.g. till-2)')
      .option('--all', 'every recording camera')
      .requiredOption('--reason <code>', `one of: ${REASON_CODES.join(', ')}`)
      .requiredOption('--justification <text>', 'what happened, at least 10 characters')
      .option('--by <name>', 'the member of staff you log it for (noted in the audit; the audit names you, the user running the command)')
      .option('--wait', 'wait until the master clips are cut, showing progress'),
  ).action(async (opts: Common & { at: string; before?: string; after?: string; camera?: string[]; zone?: string; all?: boolean; reason: string; justification: string; by?: string; wait?: boolean }) => {
    // 600 s is the longest window there is (incidents.max_window_s may lower it; the daemon says so)
    const seconds = (v: string | undefined, name: string): number | undefined => (v === undefined ? undefined : intInRange(v, `--${name}`, 0, 600, 's'));
    if (!opts.camera && opts.zone === undefined && !opts.all) {
      throw new UsageError('say which cameras saw it', {
        hint: 'name them (--camera till2), give their zone (--zone tills), or take every recording camera on purpose (--all); `hindsight camera list` shows cameras and zones',
      });
    }
    const body = {
      at: opts.at,
      before_s: seconds(opts.before, 'before'),
      after_s: seconds(opts.after, 'after'),
      cameras: opts.camera,
      zone: opts.zone,
      all: opts.all ? true : undefined,
      // sent as given: the daemon refuses an unknown code, naming the allowed ones
      reason: opts.reason as ReasonCode,
      justification: opts.justification,
      on_behalf_of: opts.by,
    };
    const dir = runtimeDir(opts);
    const { incident: created } = await callRoute(dir, INCIDENT_API.log, { body });
    let view = created;
    if (opts.wait) {
      let last = '';
      while (['logged', 'waiting', 'extracting'].includes(view.state)) {
        const status = `${view.state}${view.queuePosition ? ` (queue ${view.queuePosition})` : ''}`;
        if (status !== last && !opts.json) process.stderr.write(`  ${status}...\n`);
        last = status;
        await sleep(500);
        view = (await callRoute(dir, INCIDENT_API.show, { params: { id: view.id } })).incident;
      }
    }
    process.stdout.write(opts.json ? JSON.stringify(view) + '\n' : describe(view));
    if (view.state === 'failed') process.exitCode = 1;
  });

  withCommon(
    incident
      .command('list')
      .description('list incidents, newest first, with their state and queue position')
      .option('--state <states>', 'only these states, comma separated')
      .option('--limit <n>', 'at most this many', intOption('--limit', 1, 9999), 50),
  ).action(async (opts: Common & { state?: string; limit: number }) => {
    const { incidents } = await callRoute(runtimeDir(opts), INCIDENT_API.list, { query: { limit: String(opts.limit), state: opts.state } });
    if (opts.json) return void process.stdout.write(JSON.stringify(incidents) + '\n');
    if (incidents.length === 0) return void process.stdout.write('no incidents\n');
    process.stdout.write(
      table(
        ['ID', 'STATE', 'LOGGED (UTC)', 'REASON', 'CAMERAS', 'QUEUE / NEXT'],
        incidents.map((i) => [i.id, i.state, time(i.loggedAtMs), i.reason, i.cameras.map((c) => c.cameraId).join(','), note(i)]),
      ),
    );
  });

  withCommon(incident.command('show').description('show one incident: window, cameras, clips, coverage').argument('<id>', 'incident id')).action(
    async (id: string, opts: Common) => {
      const { incident: view } = await callRoute(runtimeDir(opts), INCIDENT_API.show, { params: { id } });
      process.stdout.write(opts.json ? JSON.stringify(view) + '\n' : describe(view));
    },
  );

  withCommon(
    incident
      .command('cancel')
      .description('cancel an incident before its evidence is sent; its clips are deleted')
      .argument('<id>', 'incident id')
      .requiredOption('--justification <text>', 'why it is cancelled, at least 10 characters'),
  ).action(async (id: string, opts: Common & { justification: string }) => {
    // the audit names the user running the command (proved to the daemon, never claimed)
    const { incident: view } = await callRoute(runtimeDir(opts), INCIDENT_API.cancel, { params: { id }, body: { justification: opts.justification } });
    process.stdout.write(opts.json ? JSON.stringify(view) + '\n' : describe(view));
  });

  withCommon(incident.command('retry').description('retry a failed incident now, from the step that failed').argument('<id>', 'incident id')).action(
    async (id: string, opts: Common) => {
      const { incident: view } = await callRoute(runtimeDir(opts), INCIDENT_API.retry, { params: { id }, body: {} });
      process.stdout.write(opts.json ? JSON.stringify(view) + '\n' : describe(view));
    },
  );
}
