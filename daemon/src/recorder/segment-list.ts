import { closeSync, openSync, readSync } from 'node:fs';

/** One line of ffmpeg's CSV segment list: a closed segment with its times on the stream's clock (seconds). */
export interface SegmentListEntry {
  file: string;
  startS: number;
  endS: number;
}

export function parseSegmentListLine(line: string): SegmentListEntry | undefined {
  const m = /^"?([^",]+)"?,(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)$/.exec(line.trim());
  if (!m) return undefined;
  return { file: m[1]!, startS: Number(m[2]), endS: Number(m[3]) };
}

/**
 * Follows a segment list that ffmpeg appends to: each `read()` returns the lines completed since the last one.
 * A line without its newline yet is left for the next read.
 */
export class SegmentListTail {
  private offset = 0;
  private pending = '';

  constructor(readonly file: string) {}

  read(): SegmentListEntry[] {
    let fd: number;
    try {
      fd = openSync(this.file, 'r');
    } catch {
      return []; // ffmpeg has not created it yet
    }
    const chunks: Buffer[] = [];
    try {
      const buf = Buffer.allocUnsafe(4096);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, this.offset);
        if (n <= 0) break;
        chunks.push(Buffer.from(buf.subarray(0, n)));
        this.offset += n;
      }
    } finally {
      closeSync(fd);
    }
    const text = this.pending + Buffer.concat(chunks).toString('utf8');
    const lines = text.split('\n');
    this.pending = lines.pop() ?? '';
    return lines.map(parseSegmentListLine).filter((e): e is SegmentListEntry => e !== undefined);
  }
}
