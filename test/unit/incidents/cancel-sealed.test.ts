import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sealEnvelope } from '../../../daemon/src/crypto/envelope.js';
import { generateKeyPair } from '../../../daemon/src/crypto/keys.js';
import { incidentDir } from '../../../daemon/src/incidents/paths.js';
import { Outbox } from '../../../daemon/src/uplink/outbox.js';
import { IncidentHarness } from '../../helpers/incident-harness.js';
import { tempDir } from '../../helpers/paths.js';

describe('an incident whose envelope is in the outbox cannot be cancelled', () => {
  it('a failed incident with a queued envelope: cancel is refused, nothing erased, the envelope stays', async () => {
    const h = new IncidentHarness(tempDir(), {});
    h.addCamera('c1');
    // c1 has recorded (an incident on a camera that never recorded a frame is refused)
    const seg = path.join(tempDir(), 'seg.ts');
    writeFileSync(seg, Buffer.alloc(1880));
    h.indexFootage('c1', [seg], h.clock.now() - 60_000, 60_000);
    const id = h.logIncident(['c1']).id;
    h.parts.machine.fail(id, { reason: 'a later step failed after sealing', code: 'test', hint: undefined, needs: 'person' }, { actor: { type: 'system', id: 'test' } });
    const device = generateKeyPair('ed25519');
    const recipient = generateKeyPair('x25519');
    const e = await sealEnvelope({ plaintext: Buffer.from('package'), device, deviceId: 'test-box', incidentId: id, msgSeq: 1, recipients: [{ kid: recipient.kid, pk: recipient.pk }], clock: { synced: true, offset_ms: 0 }, now: h.clock.now() });
    const clip = path.join(incidentDir(h.ctx.paths.evidenceDir, id), 'c1.ts');
    mkdirSync(path.dirname(clip), { recursive: true });
    writeFileSync(clip, 'master clip');
    new Outbox(h.db, h.ctx.audit, h.clock, { maxBytes: 1e9, maxAgeMs: 1e9 }).enqueue(e);
    expect(() => h.parts.desk.cancel(id, { type: 'cli', id: 'manager' }, 'changed my mind about it')).toThrow(/is sealed \(envelope [0-9a-f]{32}, waiting to be sent\) and can no longer be cancelled/);
    expect(h.get(id).state).toBe('failed');
    expect(h.auditRows(id).some((r) => r.action === 'evidence.erased')).toBe(false);
    expect(h.db.prepare("SELECT state FROM outbox WHERE incident_id = ?").get(id)).toEqual({ state: 'pending' });
    expect(existsSync(clip)).toBe(true);
  });
});
