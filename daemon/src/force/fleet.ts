import type { Logger } from 'pino';
import type { Db } from '../db/db.js';
import { HealthPayload, parsePayload, StatePayload } from '../protocol/schemas.js';
import { parseUpTopic, type ParsedUpTopic } from '../protocol/topics.js';
import type { Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import { FleetRepo } from './db/fleet.js';
import { DeviceRegistry } from './registry.js';

type UpKind = Extract<ParsedUpTopic, { device: string }>['kind'];

/**
 * A retained message an enrolled box sent on one of `kinds`: its kind and box; `other` for any other
 * topic; `dropped` for a cleared retained message (an empty payload: nothing to record) or a box that is
 * not enrolled here or is revoked (said in the log).
 */
export function fromEnrolledBox<K extends UpKind>(d: { prefix: string; log: Logger }, registry: DeviceRegistry, topic: string, payload: Buffer, kinds: readonly K[]): { kind: K; device: string } | 'other' | 'dropped' {
  const t = parseUpTopic(d.prefix, topic);
  if (!t || !(kinds as readonly string[]).includes(t.kind)) return 'other';
  if (payload.length === 0) return 'dropped';
  const device = registry.get(t.device);
  if (!device || device.revoked) {
    d.log.warn({ device: t.device, topic }, `${t.kind} from a box that is not enrolled here (or revoked): dropped`);
    return 'dropped';
  }
  return { kind: t.kind as K, device: t.device };
}

/**
 * The fleet side of the receiver: every box's retained `state` (online, or offline by its last will or
 * its clean stop) and `health` document, kept per box with the time of each change. Only enrolled, not
 * revoked boxes are kept; a malformed message is logged and dropped.
 */
export class FleetIntake {
  private readonly fleet: FleetRepo;
  private readonly registry: DeviceRegistry;

  constructor(private readonly d: { db: Db; clock: Clock; log: Logger; prefix: string }) {
    this.fleet = new FleetRepo(d.db);
    this.registry = new DeviceRegistry(d.db);
  }

  /** True when the topic was a fleet topic (handled or dropped), false for anything else. */
  handle(topic: string, payload: Buffer): boolean {
    const t = fromEnrolledBox(this.d, this.registry, topic, payload, ['state', 'health']);
    if (typeof t === 'string') return t === 'dropped';
    const now = this.d.clock.now();
    try {
      if (t.kind === 'state') {
        const s = parsePayload(StatePayload, payload, 4096);
        const { changed } = this.fleet.setState(t.device, { state: s.state, bootId: s.boot_id, bdSeq: s.bd_seq, version: s.version }, now);
        if (changed) this.d.log.info({ device: t.device, state: s.state, boot_id: s.boot_id, bd_seq: s.bd_seq }, `box ${t.device} is ${s.state}`);
      } else {
        this.fleet.setHealth(t.device, parsePayload(HealthPayload, payload, 256 * 1024) as Record<string, unknown>, now);
      }
    } catch (err) {
      this.d.log.warn({ device: t.device, topic, err: errorMessage(err) }, `malformed ${t.kind} message dropped`);
    }
    return true;
  }
}
