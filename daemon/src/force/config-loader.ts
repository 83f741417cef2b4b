import { ConfigLoader } from '../config/loader.js';
import type { ForceConfig } from './config.js';
import { forceConfigJsonSchema, validateForceConfig } from './config-validator.js';

/**
 * The loader of the force's configuration file. Its schema (config.ts) is not loaded here: its plain JSON
 * copy and validator were generated from it (`npm run schema`), so a short command such as `fleet list`
 * starts without TypeBox or ajv.
 */
export const forceConfigLoader = new ConfigLoader<ForceConfig>(forceConfigJsonSchema, 'HSFORCE_', undefined, validateForceConfig);
