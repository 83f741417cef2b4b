import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MasterHoldsRepo } from '../../../daemon/src/db/repos/master-holds.js';
import { IncidentHarness, makeSegmentFiles } from '../../helpers/incident-harness.js';
import { tempDir } from '../../helpers/paths.js';

const DAY = 86_400_000;

/**
 * An investigator's hold (the force's hold_incident) keeps a delivered incident's master clips past
 * `incidents.master_retention_days` until the hold ends; without one they are erased when retention ends.
 */
describe("master clips: retention after delivery, and an investigator's hold", () => {
  let footage: string[];
  beforeAll(async () => {
    footage = await makeSegmentFiles(path.join(tempDir(), 'footage'), 10);
  });

  it('a held incident keeps its masters past retention until the hold ends; another is erased at retention', async () => {
    const h = new IncidentHarness(tempDir(), { master_retention_days: 7 });
    h.addCamera('till1');
    h.indexFootage('till1', footage, h.clock.now() - 200_000);
    const held = h.logIncident(['till1']);
    const plain = h.logIncident(['till1']);
    // both delivered now (the steps in between are other tests' business)
    for (const i of [held, plain]) h.db.prepare("UPDATE incidents SET state = 'delivered', updated_at_ms = ? WHERE id = ?").run(h.clock.now(), i.id);
    new MasterHoldsRepo(h.db).set(held.id, h.clock.now() + 30 * DAY, 'force-command:test', h.clock.now());

    await h.runFor(8 * DAY, DAY);
    expect(h.get(plain.id).state, 'retention ended: erased').toBe('closed');
    expect(h.get(held.id).state, 'held: kept').toBe('delivered');
    await h.runFor(21 * DAY, DAY);
    expect(h.get(held.id).state).toBe('delivered');
    await h.runFor(2 * DAY, DAY);
    expect(h.get(held.id).state, 'the hold ended: erased').toBe('closed');
    const erased = h.db.prepare("SELECT object_ids FROM audit WHERE action = 'evidence.erased' ORDER BY seq").pluck().all() as string[];
    expect(erased.map((o) => (JSON.parse(o) as string[])[0])).toEqual([plain.id, held.id]);
  });
});
