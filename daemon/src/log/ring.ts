import { isSecretKey, redactString } from './redact.js';

/**
 * The daemon's recent log lines in memory, for the force's `get_logs` command. The logger writes every
 * line here as well as to stdout (what stdout gets is unchanged). A line is reduced when it comes in, so
 * the ring never holds more than may leave the box: the level, the time, the message and fields known to
 * be safe (ids of cameras, incidents, envelopes and commands, codes, counts). Anything else (error texts,
 * reasons, URLs, names, anything a person typed) is dropped and only its field name kept under
 * `redacted`; a dropped value that also appears in the message is blotted out there too.
 */

export interface SafeLogLine {
  level: string;
  time: string;
  msg?: string;
  [field: string]: unknown;
}

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** Fields whose value is an id or a code of the system's own making (kept when it looks like one). */
const ID_FIELDS = new Set([
  'service', 'device', 'camera', 'cameraId', 'camera_id', 'incident', 'incidentId', 'incident_id', 'envelope', 'envelopeId', 'envelope_id',
  'cmd_id', 'cmdId', 'job', 'bootId', 'boot_id', 'run', 'runId', 'step', 'state', 'status', 'op', 'code', 'problem', 'alarm', 'signal',
  'version', 'mode', 'kid', 'setting',
]);
const ID_VALUE = /^[A-Za-z0-9][A-Za-z0-9_.:+-]{0,79}$/;
const FIELD_NAME = /^[A-Za-z0-9_]{1,40}$/;
const HANDLED = new Set(['level', 'time', 'msg', 'pid', 'hostname']);
const MAX_MSG = 300;
/** Dropped strings shorter than this are not blotted out of the message (they would eat ordinary words). */
const MIN_BLOT = 6;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

function safeId(value: unknown): string | undefined {
  return typeof value === 'string' && ID_VALUE.test(value) ? value : undefined;
}

/** Strings inside a dropped value, to blot out of the message (bounded). */
function collectStrings(value: unknown, out: string[], depth = 0): void {
  if (out.length >= 50 || depth > 4) return;
  if (typeof value === 'string') {
    if (value.length >= MIN_BLOT) out.push(value.slice(0, 500));
  } else if (value && typeof value === 'object') {
    for (const v of Object.values(value)) collectStrings(v, out, depth + 1);
  }
}

/** One pino JSON line reduced to what may leave the box; undefined for a blank line. */
export function safeLogLine(raw: string): SafeLogLine | undefined {
  const text = raw.trim();
  if (!text) return undefined;
  let obj: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(text);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    obj = parsed as Record<string, unknown>;
  } catch {
    return { level: 'unknown', time: new Date().toISOString(), msg: '[a log line that is not JSON]' };
  }
  const out: SafeLogLine = {
    level: typeof obj.level === 'number' ? (LEVELS[obj.level] ?? String(obj.level)) : 'unknown',
    time: typeof obj.time === 'string' && /^\d{4}-\d\d-\d\dT[\d:.]+Z$/.test(obj.time) ? obj.time : typeof obj.time === 'number' ? new Date(obj.time).toISOString() : '',
  };
  const redacted: string[] = [];
  const blot: string[] = [];
  for (const [key, value] of Object.entries(obj)) {
    if (HANDLED.has(key) || value === undefined) continue;
    if (!FIELD_NAME.test(key)) {
      collectStrings(value, blot);
      if (redacted.length < 20) redacted.push('?');
      continue;
    }
    const secret = isSecretKey(key);
    if (!secret && (typeof value === 'number' || typeof value === 'boolean')) {
      out[key] = value;
    } else if (!secret && ID_FIELDS.has(key) && safeId(value)) {
      out[key] = value;
    } else if (!secret && (key === 'err' || key === 'error') && value && typeof value === 'object') {
      // an error's kind and code say what went wrong; its message may quote anything
      const e = value as Record<string, unknown>;
      const kept = { ...(safeId(e.type) ? { type: e.type } : {}), ...(safeId(e.code) ? { code: e.code } : {}) };
      if (Object.keys(kept).length) out[key] = kept;
      collectStrings(value, blot);
      redacted.push(`${key}.message`);
    } else {
      collectStrings(value, blot);
      if (redacted.length < 20) redacted.push(key);
    }
  }
  if (typeof obj.msg === 'string') {
    let msg = redactString(obj.msg);
    for (const s of blot.sort((a, b) => b.length - a.length)) msg = msg.split(s).join('[redacted]');
    msg = msg.replace(CONTROL, ' ');
    out.msg = msg.length > MAX_MSG ? `${msg.slice(0, MAX_MSG)}…` : msg;
  }
  if (redacted.length) out.redacted = redacted;
  return out;
}

export interface LogRingLimits {
  maxLines: number;
  maxBytes: number;
}

export const DEFAULT_RING_LIMITS: LogRingLimits = { maxLines: 2000, maxBytes: 1024 * 1024 };

/** A bounded ring of reduced log lines (by count and by bytes of JSON); a pino destination. */
export class LogRing {
  private readonly lines: { json: string; bytes: number }[] = [];
  private bytes = 0;

  constructor(private readonly limits: LogRingLimits = DEFAULT_RING_LIMITS) {}

  /** pino writes one JSON line per call. */
  write(chunk: string): void {
    for (const raw of chunk.split('\n')) {
      const line = safeLogLine(raw);
      if (!line) continue;
      const json = JSON.stringify(line);
      const bytes = Buffer.byteLength(json);
      this.lines.push({ json, bytes });
      this.bytes += bytes;
      while (this.lines.length > this.limits.maxLines || (this.bytes > this.limits.maxBytes && this.lines.length > 1)) this.bytes -= this.lines.shift()!.bytes;
    }
  }

  get size(): number {
    return this.lines.length;
  }

  /**
   * The newest `count` lines, oldest first, within `maxBytes` of JSON: when they do not all fit, the
   * oldest of them are left out and `truncated` says so.
   */
  tail(count: number, maxBytes: number): { lines: SafeLogLine[]; truncated: boolean } {
    const picked: SafeLogLine[] = [];
    let used = 2;
    let truncated = false;
    for (let i = this.lines.length - 1; i >= 0 && picked.length < count; i -= 1) {
      const l = this.lines[i]!;
      if (used + l.bytes + 1 > maxBytes) {
        truncated = true;
        break;
      }
      used += l.bytes + 1;
      picked.push(JSON.parse(l.json) as SafeLogLine);
    }
    return { lines: picked.reverse(), truncated };
  }
}
