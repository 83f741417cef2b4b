import { Type, type Static } from '@sinclair/typebox';
import { CONFIG_VERSION } from './migrations.js';
import { IncidentsSection } from './sections/incidents.js';
import { DeviceSection, LogSection, ModelsSection, PathsSection, SystemdSection, ToolsSection } from './sections/core.js';
import { BufferSection, CamerasSection, RecorderSection } from './sections/recorder.js';
import { UplinkSection } from './sections/uplink.js';
import { VisionSection } from './sections/vision.js';
import { WebSection } from './sections/web.js';

/**
 * The single source of truth for configuration: types, defaults, descriptions and validation all come
 * from this schema. `hindsight config schema` prints it; config/hindsight.schema.json is generated from it.
 * Each capability owns a section file in ./sections.
 */
export const ConfigSchema = Type.Object(
  {
    version: Type.Integer({
      description: `Format version of this file (${CONFIG_VERSION} is current). A file without it is version 0 and is read as before; a file newer than the daemon is refused.`,
      minimum: 0,
      maximum: CONFIG_VERSION,
      default: CONFIG_VERSION,
    }),
    device: DeviceSection,
    paths: PathsSection,
    log: LogSection,
    models: ModelsSection,
    tools: ToolsSection,
    systemd: SystemdSection,
    cameras: CamerasSection,
    recorder: RecorderSection,
    buffer: BufferSection,
    incidents: IncidentsSection,
    vision: VisionSection,
    uplink: UplinkSection,
    web: WebSection,
  },
  {
    $id: 'https://hindsight.invalid/schema/config.json',
    title: 'Hindsight daemon configuration',
    additionalProperties: false,
  },
);

export type Config = Static<typeof ConfigSchema>;
