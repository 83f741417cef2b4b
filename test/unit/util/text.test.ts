import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../daemon/src/audit/log.js';
import { parseConfig } from '../../../daemon/src/config/load.js';
import { controlRequest } from '../../../daemon/src/control/client.js';
import { operationRoutes, type OperationContext } from '../../../daemon/src/control/operations.js';
import { ControlServer } from '../../../daemon/src/control/server.js';
import { CommandVerifier } from '../../../daemon/src/fleet/command-verify.js';
import { checkPayload } from '../../../daemon/src/protocol/schemas.js';
import { DeviceTopics } from '../../../daemon/src/protocol/topics.js';
import { openDatabase } from '../../../daemon/src/db/db.js';
import { ManualClock } from '../../../daemon/src/util/clock.js';
import { assertWellFormedText, clipText, illFormedTextPath } from '../../../daemon/src/util/text.js';
import { Type } from '@sinclair/typebox';
import { issuesOf } from '../../helpers/config-issues.js';
import { tempDir } from '../../helpers/paths.js';

const LONE = 'till 2 \ud800 shoplifting';

function freshLog(): { log: AuditLog; db: ReturnType<typeof openDatabase> } {
  const db = openDatabase(path.join(tempDir(), 'hindsight.db'));
  return { db, log: new AuditLog(db, new ManualClock(Date.UTC(2026, 10, 1, 9))) };
}

describe('ill-formed text (lone UTF-16 surrogates)', () => {
  it('finds the field holding a lone surrogate, and accepts proper pairs', () => {
    expect(illFormedTextPath({ a: ['ok', { b: 'x\udc00' }] })).toBe('a[1].b');
    expect(illFormedTextPath({ a: 'face 😀 ok', b: [1, null, true] })).toBeUndefined();
    expect(() => assertWellFormedText({ justification: LONE }, 'the request')).toThrow(/the request: justification is not valid Unicode text/);
    expect(clipText('ab😀', 3)).toBe('ab');
  });

  it('the audit log refuses such text, so an honest log always verifies', () => {
    const { log, db } = freshLog();
    log.append({ actor: { type: 'user', id: 'staff-1' }, action: 'incident.logged', justification: 'fine 😀' });
    expect(() => log.append({ actor: { type: 'user', id: 'staff-1' }, action: 'incident.logged', justification: LONE })).toThrow(/justification is not valid Unicode text/);
    expect(() => log.append({ actor: { type: 'user', id: `staff-\udbff` }, action: 'incident.logged' })).toThrow(/actor\.id/);
    expect(() => log.append({ actor: { type: 'force', id: 'k1' }, action: 'command.accepted', detail: { kid: '\udfff' } })).toThrow(/detail\.kid/);
    expect((db.prepare('SELECT COUNT(*) AS n FROM audit').get() as { n: number }).n).toBe(1);
    expect(log.verify()).toMatchObject({ ok: true, count: 1 });
  });

  it('a config file with a lone surrogate escape is refused, naming the key', () => {
    const issues = issuesOf(() => parseConfig('{"device": {"id": "shop-7", "store": "Corner \\ud800 shop"}}'));
    expect(issues).toContainEqual({ path: 'device.store', message: expect.stringMatching(/not valid Unicode text/) });
  });

  it('an MQTT payload with a lone surrogate does not match its schema', () => {
    const S = Type.Object({ kid: Type.String() });
    expect(checkPayload(S, { kid: 'k1' })).toEqual({ kid: 'k1' });
    expect(() => checkPayload(S, { kid: 'k\ud800' })).toThrow(/kid is not valid Unicode text/);
  });

  it('the control API answers 400 and the operation never runs', async () => {
    const dir = tempDir();
    const { log } = freshLog();
    const server = new ControlServer(dir, pino({ level: 'silent' }));
    const ran: unknown[] = [];
    const op = {
      name: 'note.add',
      run: (ctx: OperationContext, input: unknown) => {
        ran.push(input);
        ctx.audit.append({ actor: ctx.actor, action: 'note.added', justification: (input as { text: string }).text });
        return { ok: true };
      },
    };
    server.register(operationRoutes([op], (actor) => ({ actor, audit: log, inDaemon: true, notify: () => {} }) as unknown as OperationContext));
    await server.start();
    afterAll(() => server.stop());
    await expect(controlRequest(dir, 'POST', '/v1/ops/note.add', { input: { text: 'fine' } })).resolves.toEqual({ result: { ok: true } });
    const refused = controlRequest(dir, 'POST', '/v1/ops/note.add', { input: { text: LONE } });
    await expect(refused).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/input\.text is not valid Unicode text/) });
    expect(ran).toHaveLength(1);
    expect(log.verify()).toMatchObject({ ok: true, count: 1 });
  });

  it('a signed command with a lone surrogate in its key id is rejected as bad schema, audited, and the log still verifies', () => {
    const { log, db } = freshLog();
    const verifier = new CommandVerifier(db, log, () => undefined, new DeviceTopics('hindsight/v1', 'box-1'), new ManualClock(Date.UTC(2026, 10, 1, 9)));
    // 15 ASCII characters then a surrogate pair: the audit's 16-character cut would split it
    for (const kid of ['k\ud800', `${'a'.repeat(15)}😀`]) {
      const payload = Buffer.from(JSON.stringify({ kid, cmd: { v: 1 }, sig: 'x' }));
      const r = verifier.handle(payload, undefined, () => undefined);
      expect(r.ok).toBe(false);
      expect(r.ok ? '' : r.error.reason).toBe('schema');
    }
    const rows = log.find({ action: 'command.rejected' });
    expect(rows).toHaveLength(2);
    expect(rows[1]?.actor.id).toBe('a'.repeat(15));
    expect(log.verify()).toMatchObject({ ok: true, count: 2 });
  });
});
