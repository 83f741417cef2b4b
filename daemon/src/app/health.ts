import { statfsSync } from 'node:fs';
import si from 'systeminformation';
import { AlarmsRepo } from '../db/repos/alarms.js';
import { IncidentsRepo } from '../db/repos/incidents.js';
import type { AppContext } from '../kernel/context.js';
import type { FacePipelineCapability } from '../models/verify.js';
import { bufferStatus } from '../recorder/status.js';
import { errorMessage } from '../util/errors.js';

/**
 * The box's own figures for the health document the uplink sends the force (PROTOCOL.md): the machine
 * (cpu, memory, temperature where the board has a sensor, with `systeminformation`), the buffer's disk,
 * every camera, incidents open and failed, the face models and the active alarms. No personal data: camera
 * ids and states, counts and hashes only. A part that cannot be read is left out with the reason.
 */
export function healthFigures(ctx: AppContext, models: () => FacePipelineCapability): () => Promise<Record<string, unknown>> {
  return async () => {
    const out: Record<string, unknown> = {};
    try {
      const [load, mem, temp] = await Promise.all([si.currentLoad(), si.mem(), si.cpuTemperature()]);
      out.cpu = { load_pct: Math.round(load.currentLoad * 10) / 10, temp_c: typeof temp.main === 'number' && temp.main > 0 ? Math.round(temp.main) : null };
      out.mem = { used_bytes: mem.active, total_bytes: mem.total };
    } catch (err) {
      out.cpu = { error: errorMessage(err).slice(0, 200) };
    }
    const buffer = bufferStatus(ctx.db, ctx.config, ctx.clock);
    let free: number | null = null;
    try {
      const fs = statfsSync(ctx.paths.bufferDir);
      free = fs.bavail * fs.bsize;
    } catch {
      free = null; // the buffer folder is not there yet
    }
    // hours of buffer left: how long the free space lasts at the cameras' current rate
    const bytesPerHour = buffer.cameras.reduce((n, c) => n + (c.bitrateKbps ?? 0) * 1000 / 8 * 3600, 0);
    out.disk = { buffer_bytes: buffer.totalBytes, free_bytes: free, hours_of_buffer_left: free !== null && bytesPerHour > 0 ? Math.round((free / bytesPerHour) * 10) / 10 : null };
    out.cameras = buffer.cameras.map((c) => ({
      id: c.cameraId,
      state: c.state,
      fps: c.fps,
      kbps: c.bitrateKbps,
      last_segment_age_s: c.lastSegmentAgeS === null ? null : Math.round(c.lastSegmentAgeS),
      gaps_24h: c.gaps,
      hours_buffered: Math.round(c.hoursBuffered * 10) / 10,
    }));
    const incidents = new IncidentsRepo(ctx.db);
    out.incidents = { open: incidents.countInStates(['logged', 'waiting', 'extracting', 'analysing', 'sealed', 'sending']), failed: incidents.countInStates(['failed']) };
    const m = models();
    out.models = m.models.map((x) => ({ name: x.name, sha256: x.actualSha256 ?? x.expectedSha256, state: x.state }));
    out.alarms = new AlarmsRepo(ctx.db, ctx.clock).active().map((a) => ({ kind: a.kind, subject: a.subject, since: a.raisedUtcMs }));
    return out;
  };
}
