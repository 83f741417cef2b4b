import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { EvidenceLocks } from '../../../daemon/src/db/repos/evidence-locks.js';
import { IncidentRefused } from '../../../daemon/src/incidents/desk.js';
import { IncidentHarness, makeSegmentFiles } from '../../helpers/incident-harness.js';
import { tempDir } from '../../helpers/paths.js';

describe('hardware button presses', () => {
  let footage: string[];
  beforeAll(async () => {
    footage = await makeSegmentFiles(path.join(tempDir(), 'footage'), 20);
  });

  function box(): IncidentHarness {
    const h = new IncidentHarness(tempDir(), { press_expiry_min: 30, per_user_per_hour: 3 });
    h.addCamera('till1');
    h.addCamera('till2');
    h.indexFootage('till1', footage, h.clock.now() - 20_000);
    h.indexFootage('till2', footage, h.clock.now() - 20_000);
    return h;
  }
  const held = (h: IncidentHarness, holder: string): string[] => new EvidenceLocks(h.db, h.clock).held().filter((l) => l.holder === holder).map((l) => l.cameraId).sort();
  const actions = (h: IncidentHarness): string[] => (h.db.prepare('SELECT action FROM audit ORDER BY seq').pluck().all() as string[]).filter((a) => a.startsWith('button.') || a === 'incident.logged');

  it('a press holds the footage at once; staff complete it into an incident at the moment of the press, the lock passing to it', () => {
    const h = box();
    const buttons = h.parts.buttons;
    const { button, token } = buttons.addButton({ type: 'user', id: 'manager-1', role: 'manager' }, 'Till button', 'tills');
    expect(buttons.authenticate(token)?.id).toBe(button.id);
    expect(buttons.authenticate(token + 'x')).toBeUndefined();
    const pressedAt = h.clock.now();
    const press = buttons.press(button);
    expect(press.state).toBe('pending');
    expect(held(h, `press-${press.id}`), 'the window is locked on the zone').toEqual(['till1', 'till2']);
    expect(h.db.prepare('SELECT count(*) FROM incidents').pluck().get(), 'nothing is cut, analysed or sent yet').toBe(0);
    h.clock.advance(120_000);
    expect(buttons.pending().map((p) => p.id)).toEqual([press.id]);
    const incident = buttons.complete(press.id, { type: 'user', id: 'staff-1', role: 'staff' }, 'theft', 'took two bottles of gin at till 2');
    expect(incident.incidentAtMs, 'logged at the moment of the press, not of the completion').toBe(pressedAt);
    expect(incident.loggedBy).toEqual({ type: 'user', id: 'staff-1', role: 'staff' });
    expect(held(h, `press-${press.id}`)).toEqual([]);
    expect(held(h, incident.id)).toEqual(['till1', 'till2']);
    expect(buttons.pending()).toEqual([]);
    expect(() => buttons.complete(press.id, { type: 'user', id: 'staff-2' }, 'theft', 'took two bottles of gin at till 2')).toThrow(/already completed/);
    expect(actions(h)).toEqual(['button.added', 'button.pressed', 'incident.logged', 'button.press_completed']);
  });

  it('a press nobody completes expires: its lock is released, both audited', () => {
    const h = box();
    const buttons = h.parts.buttons;
    const { button } = buttons.addButton({ type: 'user', id: 'manager-1' }, 'Door button', '');
    const press = buttons.press(button);
    expect(held(h, `press-${press.id}`), 'no zone: every camera').toEqual(['till1', 'till2']);
    h.clock.advance(29 * 60_000);
    expect(buttons.expire()).toBe(0);
    h.clock.advance(2 * 60_000);
    expect(buttons.expire()).toBe(1);
    expect(held(h, `press-${press.id}`)).toEqual([]);
    expect(buttons.pending()).toEqual([]);
    const late = (): unknown => buttons.complete(press.id, { type: 'user', id: 'staff-1' }, 'theft', 'took two bottles of gin at till 2');
    expect(late).toThrow(IncidentRefused);
    expect(late).toThrow(/expired/);
    expect(actions(h)).toEqual(['button.added', 'button.pressed', 'button.press_expired']);
  });

  it('is rate-limited like a person, and checks the completion like any incident', () => {
    const h = box();
    const buttons = h.parts.buttons;
    const { button } = buttons.addButton({ type: 'user', id: 'manager-1' }, 'Busy button', 'tills');
    for (let i = 0; i < 3; i++) buttons.press(button);
    expect(() => buttons.press(button)).toThrow(/pressed 3 times in the last hour/);
    const p = buttons.pending()[0]!;
    expect(() => buttons.complete(p.id, { type: 'user', id: 'staff-1' }, 'theft', 'gin')).toThrow(/at least 10 characters/);
    expect(buttons.pending()).toHaveLength(3);
    expect(held(h, `press-${p.id}`), 'a refused completion keeps the press and its lock').toEqual(['till1', 'till2']);
  });
});
