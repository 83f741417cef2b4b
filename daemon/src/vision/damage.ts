/**
 * Whether a clip's video is damaged, in plain words for the report, or undefined when it decoded
 * cleanly. Two sources: the stretches whose keyframes did not decode when the clip was cut (measured
 * there, left out of the incident's coverage), and the decoder's complaints while the analysis decoded
 * every frame (it decodes them anyway; damage between keyframes shows only there). Only decoder and
 * demuxer lines count: a scaler's note about colour conversion is no damage.
 */
export function clipDamage(warnings: readonly string[], damagedMs: readonly { startMs: number; endMs: number }[] | undefined): string | undefined {
  const decoderErrors = warnings.filter((w) => DAMAGE.test(w));
  const parts: string[] = [];
  const ms = (damagedMs ?? []).reduce((n, d) => n + Math.max(0, d.endMs - d.startMs), 0);
  if (ms > 0) parts.push(`${(ms / 1000).toFixed(1)} s of it does not decode (from ${new Date(damagedMs![0]!.startMs).toISOString()})`);
  if (decoderErrors.length) parts.push(`the decoder reported errors (${decoderErrors[0]})`);
  return parts.length ? `damaged video: ${parts.join('; ')}` : undefined;
}

const DAMAGE = /^\[(h264|hevc|mpeg2video|mpeg4|mpegts|h265)\b|corrupt|error while decoding|concealing|invalid data|decode_slice|non-existing PPS|no frame!/i;
