import { Type } from '@sinclair/typebox';
import { SETTING_KEYS, type BoxSettings } from '../kernel/settings.js';
import { actorOf } from './auth.js';
import { webRoute, type WebRoute } from './route.js';

/** A new value, or null for "back to the box's default" (the config file's value). */
const Value = Type.Union([Type.Number(), Type.Null()]);

/** The settings a manager may change, within the force's caps (kernel/settings.ts applies every rule). */
export function settingsApi(d: { settings: BoxSettings }): WebRoute[] {
  return [
    webRoute({
      method: 'GET',
      url: '/api/v1/settings',
      access: 'manager',
      summary: "The box's settings a manager may change: each with its value, the default, and the range allowed (and whether the police force set its maximum).",
      handler: () => ({ settings: d.settings.list() }),
    }),
    webRoute<{ values: Partial<Record<string, number | null>> }>({
      method: 'PUT',
      url: '/api/v1/settings',
      access: 'manager',
      summary: 'Change some settings at once (all or none); null puts one back to its default. Applied at once, audited with old and new values.',
      schema: {
        body: Type.Object(
          { values: Type.Object(Object.fromEntries(SETTING_KEYS.map((k) => [k, Type.Optional(Value)])), { additionalProperties: false, minProperties: 1 }) },
          { additionalProperties: false },
        ),
      },
      handler: ({ body, caller }) => ({ settings: d.settings.change(body.values, actorOf(caller!.account)) }),
    }),
  ];
}
