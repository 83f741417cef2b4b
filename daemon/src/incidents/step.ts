import type { Incident } from './model.js';

/** The states whose work is done by a step; the worker only schedules them. */
export type StepName = 'extracting' | 'analysing';

/** One step of an incident: moves it on through the state machine, or throws (the worker records why). */
export interface IncidentStep {
  run(incident: Incident, signal: AbortSignal): Promise<void>;
}

/**
 * The step connected for each state. The worker reads it at every pass, so a state with no step (the
 * face pipeline not connected) simply waits in that state with its files kept.
 */
export type StepTable = Partial<Record<StepName, IncidentStep>>;
