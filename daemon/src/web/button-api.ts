import { Type } from '@sinclair/typebox';
import type { ButtonPress } from '../db/repos/buttons.js';
import { CamerasRepo } from '../db/repos/cameras.js';
import type { Db } from '../db/db.js';
import type { IncidentDesk } from '../incidents/desk.js';
import { REASON_CODES, type ReasonCode } from '../incidents/model.js';
import type { ButtonDesk } from '../incidents/presses.js';
import { isoUtc } from '../util/clock.js';
import { actorOf } from './auth.js';
import { cameraNames, staffView } from './api.js';
import { webRoute, type WebRoute } from './route.js';

const closed = { additionalProperties: false } as const;
const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });

/** Hardware buttons: the press (by token), the pending presses staff complete, and the buttons managers make. */
export function buttonApi(d: { db: Db; buttons: ButtonDesk; desk: IncidentDesk; port: () => number }): WebRoute[] {
  const cameras = new CamerasRepo(d.db);
  const names = (): Map<string, string> => cameraNames(cameras);
  const pressOut = (p: ButtonPress, buttonNames: Map<string, string>, cameraNames: Map<string, string>): Record<string, unknown> => ({
    id: p.id,
    button: buttonNames.get(p.buttonId) ?? p.buttonId,
    pressed_at: isoUtc(p.pressedUtcMs),
    expires_at: isoUtc(p.expiresUtcMs),
    cameras: p.cameraIds.map((c) => cameraNames.get(c) ?? c),
  });
  return [
    webRoute({
      method: 'POST',
      url: '/api/v1/button/press',
      access: 'button',
      summary: "A hardware button was pressed (its token as `Authorization: Bearer`): the moment's footage is held until staff complete it.",
      status: 201,
      handler: ({ button }) => {
        const p = d.buttons.press(button!);
        return { press: { id: p.id, pressed_at: isoUtc(p.pressedUtcMs), expires_at: isoUtc(p.expiresUtcMs), cameras: p.cameraIds.length } };
      },
    }),
    webRoute({
      method: 'GET',
      url: '/api/v1/presses',
      access: 'staff',
      summary: 'Button presses waiting for a member of staff to say what happened.',
      handler: () => {
        const buttonNames = new Map(d.buttons.buttons().map((b) => [b.id, b.name]));
        const cameraNames = names();
        return { presses: d.buttons.pending().map((p) => pressOut(p, buttonNames, cameraNames)) };
      },
    }),
    webRoute<{ reason: ReasonCode; justification: string }>({
      method: 'POST',
      url: '/api/v1/presses/:id/complete',
      access: 'staff',
      summary: 'Complete a button press with what happened: it becomes an incident logged by you at the moment of the press.',
      status: 201,
      schema: {
        params: Type.Object({ id: Id }, closed),
        body: Type.Object({ reason: Type.Unsafe<ReasonCode>({ type: 'string', enum: [...REASON_CODES] }), justification: Type.String({ maxLength: 2000 }) }, closed),
      },
      handler: ({ params, body, caller }) => {
        const incident = d.buttons.complete(params.id!, { ...actorOf(caller!.account), type: 'user' }, body.reason, body.justification);
        return { incident: staffView(d.desk.view(incident.id), names()) };
      },
    }),
    webRoute({
      method: 'GET',
      url: '/api/v1/buttons',
      access: 'manager',
      summary: 'The hardware buttons (never their tokens).',
      handler: () => ({ buttons: d.buttons.buttons().map((b) => ({ id: b.id, name: b.name, zone: b.zone, created: isoUtc(b.createdUtcMs), disabled: b.disabled })) }),
    }),
    webRoute<{ name: string; zone?: string }>({
      method: 'POST',
      url: '/api/v1/buttons',
      access: 'manager',
      summary: 'Make a hardware button: its token is shown this once, with the request the button sends.',
      status: 201,
      schema: { body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }), zone: Type.Optional(Type.String({ maxLength: 64 })) }, closed) },
      handler: ({ body, caller }) => {
        const { button, token } = d.buttons.addButton(actorOf(caller!.account), body.name, body.zone ?? '');
        return {
          button: { id: button.id, name: button.name, zone: button.zone },
          token,
          request: `curl --cacert box-cert.pem -X POST -H 'Authorization: Bearer ${token}' https://<this box>:${d.port()}/api/v1/button/press`,
        };
      },
    }),
  ];
}
