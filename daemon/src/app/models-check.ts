import { checkModels, FETCH_HINT, type FacePipelineCapability, type ModelStatus } from '../models/verify.js';
import type { AppContext } from '../kernel/context.js';
import type { Service } from '../kernel/service.js';

/**
 * Start-up capability check for the face pipeline: models present and hash-valid, onnxruntime loads.
 * When it fails the daemon still buffers and extracts; health reports "face pipeline unavailable".
 */
export class ModelsCheck implements Service {
  readonly name = 'models';
  capability: FacePipelineCapability = { available: false, reason: 'not checked yet', models: [] };

  constructor(private readonly ctx: AppContext) {}

  async start(): Promise<void> {
    const { log, paths } = this.ctx;
    let models: ModelStatus[] = [];
    try {
      models = await checkModels(paths.modelsDir);
      const bad = models.filter((m) => m.state !== 'ok');
      if (bad.length) {
        this.capability = { available: false, reason: bad.map((b) => `${b.file} ${b.state}`).join(', '), models };
      } else {
        await import('onnxruntime-node');
        this.capability = { available: true, models };
      }
    } catch (err) {
      this.capability = { available: false, reason: (err as Error).message, models };
    }
    if (this.capability.available) log.info({ service: this.name }, 'face pipeline available');
    else log.warn({ service: this.name, reason: this.capability.reason, fix: FETCH_HINT }, 'face pipeline unavailable: the box still records and extracts');
  }

  stop(): void {}
}
