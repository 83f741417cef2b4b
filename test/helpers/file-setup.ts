import { afterAll } from 'vitest';
import { stopAllTestProcesses } from './process.js';

// Whatever a test file started (broker, camera, daemon) is stopped by pid when the file ends,
// even when its tests failed.
afterAll(async () => {
  await stopAllTestProcesses();
});
