import { Type } from '@sinclair/typebox';
import { integer, number, section } from '../schema-helpers.js';

const seconds = (description: string, def: number, min = 0, max = 86_400) => Type.Integer({ description, default: def, minimum: min, maximum: max });

export const IncidentsSection = section('Incidents: windows, limits and how long master clips are kept.', {
  window_before_s: seconds('Default window start, seconds before the incident time.', 60, 0, 600),
  window_after_s: seconds('Default window end, seconds after the incident time.', 30, 0, 600),
  max_window_s: seconds('Longest window anyone may ask for (the force may set a lower cap; never above 600).', 600, 10, 600),
  max_cameras: integer('Most cameras one incident may cover.', 16, 1, 64),
  max_future_s: seconds('How far in the future an incident time may lie (clock differences between tablet and box).', 60, 0, 600),
  per_user_per_hour: integer('Incidents one person or button may log per hour.', 10, 1, 1000),
  per_device_per_hour: integer('Incidents the whole box may log per hour.', 30, 1, 10_000),
  max_open: integer('Most incidents waiting or in progress at once; more are refused until some finish.', 20, 1, 1000),
  wait_for_footage_s: seconds('After the window ends, how long to wait for cameras to deliver the footage before cutting what exists.', 60, 0, 3600),
  parallel_extractions: integer('Incidents whose master clips are cut at the same time.', 1, 1, 8),
  extract_cameras_at_once: integer("Cameras of one incident whose master clips are cut side by side (a cut is mostly the decode of the clip's keyframes that finds damaged footage: about one core each).", 2, 1, 8),
  press_expiry_min: integer('Minutes a hardware button press waits for a member of staff to give its reason; then its footage lock is released.', 30, 1, 24 * 60),
  master_retention_days: number('Days master clips are kept after the force confirmed delivery.', 7, 0, 365),
  retry_after_s: seconds('First retry delay of a failed step (doubles each time, up to an hour).', 30, 1, 3600),
  max_attempts: integer('Failed attempts of a step (the first included) after which the incident waits for a person (`hindsight incident retry` or `cancel`); 0 or 1: never retried automatically.', 5, 0, 100),
});
