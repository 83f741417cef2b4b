import { Type } from '@sinclair/typebox';
import { section } from '../schema-helpers.js';

const seconds = (description: string, def: number, min = 0, max = 86_400) => Type.Integer({ description, default: def, minimum: min, maximum: max });

export const IncidentsSection = section('Incidents: windows, limits and how long master clips are kept.', {
  window_before_s: seconds('Default window start, seconds before the incident time.', 60, 0, 600),
  window_after_s: seconds('Default window end, seconds after the incident time.', 30, 0, 600),
  max_window_s: seconds('Longest window anyone may ask for (the force may set a lower cap; never above 600).', 600, 10, 600),
  max_cameras: Type.Integer({ description: 'Most cameras one incident may cover.', default: 16, minimum: 1, maximum: 64 }),
  max_future_s: seconds('How far in the future an incident time may lie (clock differences between tablet and box).', 60, 0, 600),
  per_user_per_hour: Type.Integer({ description: 'Incidents one person or button may log per hour.', default: 10, minimum: 1, maximum: 1000 }),
  per_device_per_hour: Type.Integer({ description: 'Incidents the whole box may log per hour.', default: 30, minimum: 1, maximum: 10_000 }),
  max_open: Type.Integer({ description: 'Most incidents waiting or in progress at once; more are refused until some finish.', default: 20, minimum: 1, maximum: 1000 }),
  wait_for_footage_s: seconds('After the window ends, how long to wait for cameras to deliver the footage before cutting what exists.', 60, 0, 3600),
  parallel_extractions: Type.Integer({ description: 'Master clips cut at the same time.', default: 1, minimum: 1, maximum: 8 }),
  master_retention_days: Type.Number({ description: 'Days master clips are kept after the force confirmed delivery.', default: 7, minimum: 0, maximum: 365 }),
  retry_after_s: seconds('First retry delay of a failed step (doubles each time, up to an hour).', 30, 1, 3600),
  max_attempts: Type.Integer({ description: 'Automatic retries of a failed step before it waits for a person.', default: 5, minimum: 0, maximum: 100 }),
});
