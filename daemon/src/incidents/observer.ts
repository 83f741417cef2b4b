import type { Incident } from './model.js';
import type { IncidentStep, StepName } from './step.js';

/**
 * What the incident pipeline tells whoever measures it (the daemon's metrics). Times in seconds; nothing
 * about who or what is in the footage.
 */
export interface PipelineObserver {
  /** A step ended: how long it ran, and whether it returned (`done`) or threw (`failed`). */
  stepEnded(step: StepName, seconds: number, outcome: 'done' | 'failed'): void;
  /** A face analysis finished: its wall time, and each stage's time summed over its frames and clips. */
  facesAnalysed(wallSeconds: number, stageSeconds: Readonly<Record<string, number>>): void;
}

/** `step`, its runs timed for `observer` (a run cut short by the daemon stopping is not a measurement). */
export function observedStep(name: StepName, step: IncidentStep, observer: PipelineObserver | undefined): IncidentStep {
  if (!observer) return step;
  return {
    async run(incident: Incident, signal: AbortSignal): Promise<void> {
      const t0 = performance.now();
      let outcome: 'done' | 'failed' = 'failed';
      try {
        await step.run(incident, signal);
        outcome = 'done';
      } finally {
        if (!signal.aborted) observer.stepEnded(name, (performance.now() - t0) / 1000, outcome);
      }
    },
  };
}
