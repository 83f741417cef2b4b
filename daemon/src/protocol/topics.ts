import { assertSafeId, isSafeId } from '../util/ids.js';
import type { Static, TSchema } from '@sinclair/typebox';
import {
  AuditHeadPayload,
  CommandPayload,
  CommandResultPayload,
  DesiredConfigPayload,
  EnvelopeManifestSchema,
  HealthPayload,
  ReceiptPayload,
  ReportedConfigPayload,
  StatePayload,
} from './schemas.js';

/**
 * The topic table of PROTOCOL.md, written once. Devices, the force receiver, the ACL generator and the
 * tests all build topics from here; every id that goes into a topic is checked with assertSafeId.
 */

export const DEFAULT_PREFIX = 'hindsight/v1';

export type Direction = 'up' | 'down';

export interface TopicDef {
  /** Suffix after `{prefix}/{device}/`; `+` marks one variable level (envelope id, chunk index). */
  suffix: string;
  dir: Direction;
  retained: boolean;
  /** JSON schema of the payload; chunks are binary. */
  schema: TSchema | 'binary';
}

export const TOPICS = {
  state: { suffix: 'state', dir: 'up', retained: true, schema: StatePayload },
  health: { suffix: 'health', dir: 'up', retained: true, schema: HealthPayload },
  auditHead: { suffix: 'audit/head', dir: 'up', retained: true, schema: AuditHeadPayload },
  envelopeManifest: { suffix: 'ev/+/m', dir: 'up', retained: false, schema: EnvelopeManifestSchema },
  envelopeChunk: { suffix: 'ev/+/+', dir: 'up', retained: false, schema: 'binary' },
  receipt: { suffix: 'receipt', dir: 'down', retained: false, schema: ReceiptPayload },
  cmd: { suffix: 'cmd', dir: 'down', retained: false, schema: CommandPayload },
  cmdResult: { suffix: 'cmd/res', dir: 'up', retained: false, schema: CommandResultPayload },
  configDesired: { suffix: 'config/desired', dir: 'down', retained: true, schema: DesiredConfigPayload },
  configReported: { suffix: 'config/reported', dir: 'up', retained: true, schema: ReportedConfigPayload },
} as const satisfies Record<string, TopicDef>;

export type TopicName = keyof typeof TOPICS;

/** The payload type of a JSON topic, from its schema in the table (binary topics have none). */
export type TopicPayload<N extends TopicName> = (typeof TOPICS)[N]['schema'] extends infer S extends TSchema ? Static<S> : never;

const PREFIX = /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/;

export function assertPrefix(prefix: string): string {
  if (!PREFIX.test(prefix) || prefix.length > 100) throw new Error(`MQTT prefix ${JSON.stringify(prefix)} must be plain levels of letters, digits, '-' and '_'`);
  return prefix;
}

/** Topic builders for one device. */
export class DeviceTopics {
  readonly base: string;

  constructor(
    readonly prefix: string,
    readonly device: string,
  ) {
    assertPrefix(prefix);
    this.base = `${prefix}/${assertSafeId(device, 'device id')}`;
  }

  state(): string {
    return `${this.base}/state`;
  }
  health(): string {
    return `${this.base}/health`;
  }
  auditHead(): string {
    return `${this.base}/audit/head`;
  }
  receipt(): string {
    return `${this.base}/receipt`;
  }
  cmd(): string {
    return `${this.base}/cmd`;
  }
  cmdResult(): string {
    return `${this.base}/cmd/res`;
  }
  configDesired(): string {
    return `${this.base}/config/desired`;
  }
  configReported(): string {
    return `${this.base}/config/reported`;
  }
  envelopeManifest(envelopeId: string): string {
    return `${this.base}/ev/${checkEnvelopeId(envelopeId)}/m`;
  }
  envelopeChunk(envelopeId: string, index: number): string {
    if (!Number.isInteger(index) || index < 0) throw new Error(`chunk index ${index} is invalid`);
    return `${this.base}/ev/${checkEnvelopeId(envelopeId)}/${index}`;
  }
}

export function checkEnvelopeId(id: string): string {
  if (!/^[0-9a-f]{32}$/.test(id)) throw new Error(`envelope id ${JSON.stringify(id).slice(0, 60)} is not 32 hex characters`);
  return id;
}

/** Subscriptions of the force side (all devices); the same filters as its ACL lines, so the broker grants them. */
export function forceSubscriptions(prefix: string): { evidence: string; state: string; health: string; cmdResult: string; configReported: string; auditHead: string } {
  assertPrefix(prefix);
  return {
    evidence: `${prefix}/+/${TOPICS.envelopeChunk.suffix}`,
    state: `${prefix}/+/${TOPICS.state.suffix}`,
    health: `${prefix}/+/${TOPICS.health.suffix}`,
    cmdResult: `${prefix}/+/${TOPICS.cmdResult.suffix}`,
    configReported: `${prefix}/+/${TOPICS.configReported.suffix}`,
    auditHead: `${prefix}/+/${TOPICS.auditHead.suffix}`,
  };
}

export type ParsedUpTopic =
  | { kind: 'envelopeManifest'; device: string; envelopeId: string }
  | { kind: 'envelopeChunk'; device: string; envelopeId: string; index: number }
  | { kind: 'state' | 'health' | 'auditHead' | 'cmdResult' | 'configReported'; device: string };

/** Parse an upward topic the force received; undefined for anything not in the table. */
export function parseUpTopic(prefix: string, topic: string): ParsedUpTopic | undefined {
  if (!topic.startsWith(`${prefix}/`)) return undefined;
  const parts = topic.slice(prefix.length + 1).split('/');
  const device = parts[0];
  if (!isSafeId(device)) return undefined;
  const rest = parts.slice(1).join('/');
  if (parts[1] === 'ev' && parts.length === 4 && /^[0-9a-f]{32}$/.test(parts[2] ?? '')) {
    const envelopeId = parts[2]!;
    if (parts[3] === 'm') return { kind: 'envelopeManifest', device, envelopeId };
    if (/^(0|[1-9][0-9]{0,8})$/.test(parts[3] ?? '')) return { kind: 'envelopeChunk', device, envelopeId, index: Number(parts[3]) };
    return undefined;
  }
  const simple = { state: 'state', health: 'health', 'audit/head': 'auditHead', 'cmd/res': 'cmdResult', 'config/reported': 'configReported' } as const;
  const kind = simple[rest as keyof typeof simple];
  return kind ? { kind, device } : undefined;
}
