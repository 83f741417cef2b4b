import type { Migration } from './migration.js';

/**
 * A failed incident says what it waits for: its next attempt at a stated time (`retry`, with
 * next_attempt_ms), an event (`event`, with wait_event), or a person (`person`). Before this, a failure
 * past its retries left next_attempt_ms NULL, which read as "due now" and retried in a loop.
 * `step_runs` counts starts of the current step that never finished (a crash mid-step), so a step that
 * kills the daemon every time stops being restarted.
 */
export const m006: Migration = {
  version: 6,
  name: 'incident waits',
  sql: `
    ALTER TABLE incidents ADD COLUMN failure_code TEXT;
    ALTER TABLE incidents ADD COLUMN wait_kind TEXT CHECK (wait_kind IN ('retry', 'event', 'person'));
    ALTER TABLE incidents ADD COLUMN wait_event TEXT;
    ALTER TABLE incidents ADD COLUMN step_runs INTEGER NOT NULL DEFAULT 0;
    UPDATE incidents SET wait_kind = CASE WHEN next_attempt_ms IS NULL THEN 'person' ELSE 'retry' END WHERE state = 'failed';
    UPDATE incidents SET next_attempt_ms = NULL WHERE state <> 'failed';
    CREATE INDEX incidents_waits ON incidents (wait_kind, next_attempt_ms) WHERE state = 'failed';
  `,
};
