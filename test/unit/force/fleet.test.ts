import { describe, expect, it } from 'vitest';
import { FleetRepo } from '../../../daemon/src/force/db/fleet.js';
import { FleetIntake } from '../../../daemon/src/force/fleet.js';
import { createLogger } from '../../../daemon/src/log/logger.js';
import { Writable } from 'node:stream';
import { forceWithBoxes } from '../../helpers/force-intake.js';

describe('fleet intake: presence and health per box; bad messages dropped with the reason', () => {
  const setup = () => {
    const { fdb, clock } = forceWithBoxes('hs-fleet-unit-');
    const lines: Record<string, unknown>[] = [];
    const log = createLogger({ level: 'info', destination: new Writable({ write: (c: Buffer, _e, done) => (lines.push(...c.toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)), done()) }) });
    return { fdb, clock, lines, intake: new FleetIntake({ db: fdb.db, clock, log, prefix: 'hindsight/v1' }), fleet: new FleetRepo(fdb.db) };
  };
  const state = (s: string, boot = 'b1', seq = 1): Buffer => Buffer.from(JSON.stringify({ state: s, version: '0.1.0', boot_id: boot, bd_seq: seq }));

  it('records online and offline with the time of each change; a repeat keeps the time', () => {
    const { intake, fleet, clock } = setup();
    expect(intake.handle('hindsight/v1/box-1/state', state('online'))).toBe(true);
    const t0 = clock.now();
    clock.advance(60_000);
    intake.handle('hindsight/v1/box-1/state', state('online'));
    expect(fleet.get('box-1')).toMatchObject({ state: 'online', sinceUtc: t0, bootId: 'b1', bdSeq: 1 });
    clock.advance(60_000);
    intake.handle('hindsight/v1/box-1/state', state('offline'));
    expect(fleet.get('box-1')).toMatchObject({ state: 'offline', sinceUtc: t0 + 120_000 });
    intake.handle('hindsight/v1/box-1/health', Buffer.from(JSON.stringify({ ts: clock.now(), uptime_s: 5, version: '0.1.0', clock: { synced: true, offset_ms: 1, source: 'chrony' }, outbox: { pending: 0, bytes: 0, oldest_age_s: null }, cameras: [] })));
    expect(fleet.get('box-1')!.health).toMatchObject({ uptime_s: 5, cameras: [] });
    expect(intake.handle('hindsight/v1/box-1/ev/0123456789abcdef0123456789abcdef/m', Buffer.from('{}')), 'evidence is not the fleet\'s').toBe(false);
  });

  it('drops messages of unknown or revoked boxes, malformed or oversized ones, and cleared retained ones', () => {
    const { intake, fleet, lines } = setup();
    for (const [topic, payload] of [
      ['hindsight/v1/box-9/state', state('online')],
      ['hindsight/v1/box-2/state', state('online')],
      ['hindsight/v1/box-1/state', Buffer.from('not json')],
      ['hindsight/v1/box-1/state', Buffer.from(JSON.stringify({ state: 'online', version: '1', boot_id: 'b', bd_seq: 1, extra: true }))],
      ['hindsight/v1/box-1/state', state('sleeping')],
      ['hindsight/v1/box-1/health', Buffer.from(JSON.stringify({ ts: 1, uptime_s: 1, version: '1', clock: { synced: true, offset_ms: null, source: 'x' }, outbox: { pending: 0, bytes: 0, oldest_age_s: null }, pad: 'x'.repeat(300_000) }))],
      ['hindsight/v1/box-1/state', Buffer.alloc(0)],
    ] as const) expect(intake.handle(topic, payload as Buffer)).toBe(true);
    expect(fleet.summaries()).toEqual([]);
    const why = lines.filter((l) => l.level === 40).map((l) => String(l.msg));
    expect(why).toEqual([
      'state from a box that is not enrolled here (or revoked): dropped',
      'state from a box that is not enrolled here (or revoked): dropped',
      'malformed state message dropped',
      'malformed state message dropped',
      'malformed state message dropped',
      'malformed health message dropped',
    ]);
  });
});
