import { ConfigSchema } from '../config/schema.js';
import type { ValidatorModule } from '../config/validator-code.js';
import { ForceConfigSchema } from '../force/config.js';

/**
 * The config validators generated ahead of time, each from its schema: `npm run schema` writes them
 * (scripts/config-validators.mjs), and a unit test checks that each file still matches its schema.
 */
export const CONFIG_VALIDATORS: (ValidatorModule & { schema: object })[] = [
  {
    schema: ConfigSchema,
    file: 'daemon/src/config/schema-validator.ts',
    from: 'ConfigSchema in daemon/src/config/schema.ts',
    loaderImport: './loader.js',
    validator: 'validateConfig',
  },
  {
    schema: ForceConfigSchema,
    file: 'daemon/src/force/config-validator.ts',
    from: 'ForceConfigSchema in daemon/src/force/config.ts',
    loaderImport: '../config/loader.js',
    validator: 'validateForceConfig',
    schemaCopy: 'forceConfigJsonSchema',
  },
];
