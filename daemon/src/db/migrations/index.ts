/**
 * Numbered schema migrations. Append only: never edit a migration that has shipped; add the next number.
 * Every table is STRICT. Each migration runs in one transaction together with the user_version bump.
 */
export type { Migration } from './migration.js';
import type { Migration } from './migration.js';
import { m001 } from './001_init.js';
import { m002 } from './002_audit.js';
import { m003 } from './003_recorder.js';
import { m004 } from './004_incidents.js';
import { m005 } from './005_uplink.js';
import { m006 } from './006_incident_waits.js';
import { m007 } from './007_camera_states.js';
import { m008 } from './008_web.js';
import { m009 } from './009_buttons.js';
import { m010 } from './010_audit_links.js';
import { m011 } from './011_command_nonces.js';
import { m012 } from './012_master_holds.js';
import { m013 } from './013_outbox_kinds.js';

export const MIGRATIONS: readonly Migration[] = [m001, m002, m003, m004, m005, m006, m007, m008, m009, m010, m011, m012, m013];
