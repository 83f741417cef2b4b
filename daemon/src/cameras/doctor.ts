import type { Config } from '../config/schema.js';
import type { CheckResult } from '../doctor/check.js';
import { runCommand } from '../util/child.js';
import { sandboxed, sandboxProblem } from '../util/sandbox.js';

/** `hindsight doctor`: the sandbox ffmpeg reads cameras in works here (namespaces allowed, bwrap present). */
export async function sandboxCheck({ config }: { config: Pick<Config, 'tools'> }): Promise<CheckResult> {
  const mode = config.tools.sandbox;
  if (mode === 'off') return { check: 'sandbox', state: 'warn', required: false, detail: 'tools.sandbox is off: ffmpeg reads cameras with the daemon\'s own view of the files (keys, token, config)', fix: 'apt-get install bubblewrap and remove tools.sandbox: off' };
  const problem = sandboxProblem(mode);
  if (problem) return { check: 'sandbox', state: 'missing', required: true, detail: problem, fix: 'apt-get install bubblewrap' };
  try {
    const r = await runCommand(...sandboxed(mode, config.tools.ffmpeg, ['-hide_banner', '-version']), { timeoutMs: 10_000 });
    if (r.code === 0) return { check: 'sandbox', state: 'ok', required: true, detail: 'ffmpeg starts in the bubblewrap sandbox' };
    return { check: 'sandbox', state: 'missing', required: true, detail: `ffmpeg does not start in the sandbox: ${r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`}`, fix: 'allow user namespaces for the daemon (systemd: RestrictNamespaces=user mnt pid; kernel: unprivileged user namespaces on)' };
  } catch (err) {
    return { check: 'sandbox', state: 'missing', required: true, detail: `the sandbox cannot start: ${(err as Error).message}`, fix: 'apt-get install bubblewrap' };
  }
}

/** `hindsight doctor --dev`: the GStreamer RTSP server the demo's and the tests' cameras are made with. */
export async function rtspTestCameraCheck(): Promise<CheckResult> {
  const probe = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer";
  try {
    const r = await runCommand('/usr/bin/python3', ['-c', probe], { timeoutMs: 10_000 });
    if (r.code === 0) return { check: 'rtsp test camera', state: 'ok', required: false, detail: 'GStreamer RTSP server available (demo and tests)' };
  } catch {
    /* fall through */
  }
  return { check: 'rtsp test camera', state: 'warn', required: false, detail: 'GStreamer RTSP server not installed (only the demo and tests need it)', fix: 'npm run setup' };
}
