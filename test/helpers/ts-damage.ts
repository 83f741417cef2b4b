import { readFileSync, writeFileSync } from 'node:fs';

const TS_PACKET = 188;

/**
 * Garbage video inside valid framing: every MPEG-TS packet of the video PID that carries only payload
 * (no PES start, no adaptation field) gets its payload overwritten with pseudo-random bytes; the 4-byte
 * packet headers, PAT/PMT and PES headers stay intact, so the file still demuxes and only a decode shows
 * the damage. `share` is the fraction of such packets overwritten. Returns how many were.
 */
export function garbleVideoPayload(file: string, share = 1, seed = 1): number {
  const b = readFileSync(file);
  let state = seed >>> 0 || 1;
  const rand = (): number => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const videoPid = 0x100; // ffmpeg's mpegts muxer puts the first stream on PID 256
  let n = 0;
  for (let off = 0; off + TS_PACKET <= b.length; off += TS_PACKET) {
    if (b[off] !== 0x47) continue;
    const pid = ((b[off + 1]! & 0x1f) << 8) | b[off + 2]!;
    const payloadStart = (b[off + 1]! & 0x40) !== 0;
    const adaptation = (b[off + 3]! >> 4) & 3;
    if (pid !== videoPid || payloadStart || adaptation !== 1 || rand() >= share) continue;
    for (let i = off + 4; i < off + TS_PACKET; i++) b[i] = Math.floor(rand() * 256);
    n++;
  }
  writeFileSync(file, b);
  return n;
}
