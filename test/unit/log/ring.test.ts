import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../daemon/src/log/logger.js';
import { LogRing, safeLogLine } from '../../../daemon/src/log/ring.js';

const line = (o: Record<string, unknown>): string => JSON.stringify({ level: 30, time: '2026-07-01T12:00:00.000Z', pid: 4242, ...o });

describe('log lines for the force (get_logs) keep only what may leave the box', () => {
  it('keeps level, time, message, ids, codes and counts', () => {
    expect(safeLogLine(line({ service: 'uplink', camera: 'till2', incident: 'i_01H', cmd_id: 'c123', bytes: 2048, sessionPresent: true, msg: 'hindsight running' }))).toEqual({
      level: 'info',
      time: '2026-07-01T12:00:00.000Z',
      service: 'uplink',
      camera: 'till2',
      incident: 'i_01H',
      cmd_id: 'c123',
      bytes: 2048,
      sessionPresent: true,
      msg: 'hindsight running',
    });
  });

  it('drops error texts, reasons, URLs, names and secrets, naming the fields it dropped', () => {
    const out = safeLogLine(
      line({
        level: 50,
        service: 'recorder',
        camera: 'till2',
        err: { type: 'HindsightError', code: 'rtsp_auth', message: 'camera at rtsp://***@10.0.0.2/s refused user alice' },
        reason: 'the manager said: Bob in the red coat took it',
        url: 'rtsp://***@10.0.0.2/s',
        name: 'Till by the door',
        password: '[redacted]',
        pin: 1234,
        justification: 'man took two bottles',
        subjects: [{ face: 'x' }],
        msg: 'camera till2: failed',
      }),
    )!;
    expect(out).toMatchObject({ level: 'error', service: 'recorder', camera: 'till2', err: { type: 'HindsightError', code: 'rtsp_auth' }, msg: 'camera till2: failed' });
    expect(out.redacted).toEqual(['err.message', 'reason', 'url', 'name', 'password', 'pin', 'justification', 'subjects']);
    const text = JSON.stringify(out);
    for (const gone of ['alice', 'Bob', 'red coat', 'rtsp:', '10.0.0.2', 'Till by the door', '1234', 'bottles', 'face']) expect(text).not.toContain(gone);
  });

  it('blots out of the message what it dropped from the fields, and credentials in URLs', () => {
    const setup = safeLogLine(line({ service: 'web', setup_code: 'K7QX-29PM', msg: 'no manager yet: enter the setup code K7QX-29PM' }))!;
    expect(setup.msg).toBe('no manager yet: enter the setup code [redacted]');
    expect(setup.redacted).toEqual(['setup_code']);
    const failed = safeLogLine(line({ incident: 'i1', reason: 'disk full at /srv/x', msg: 'incident i1 is failed: disk full at /srv/x' }))!;
    expect(failed.msg).toBe('incident i1 is failed: [redacted]');
    expect(safeLogLine(line({ msg: 'probe rtsp://admin:hunter2@10.0.0.2/stream failed; password=hunter2' }))!.msg).not.toContain('hunter2');
    // ids that do not look like ids are not kept either
    expect(safeLogLine(line({ camera: 'till 2 (by the door)', msg: 'm' }))).toMatchObject({ redacted: ['camera'] });
    expect(safeLogLine(line({ msg: `a${'x'.repeat(1000)}` }))!.msg!.length).toBeLessThanOrEqual(301);
    expect(safeLogLine('not json')).toMatchObject({ msg: '[a log line that is not JSON]' });
    expect(safeLogLine('  \n')).toBeUndefined();
  });
});

describe('LogRing', () => {
  it('is bounded by lines and by bytes, oldest out first', () => {
    const ring = new LogRing({ maxLines: 5, maxBytes: 1024 * 1024 });
    for (let i = 0; i < 12; i += 1) ring.write(`${line({ msg: `line ${i}` })}\n`);
    expect(ring.size).toBe(5);
    expect(ring.tail(100, 1 << 20).lines.map((l) => l.msg)).toEqual(['line 7', 'line 8', 'line 9', 'line 10', 'line 11']);
    const small = new LogRing({ maxLines: 1000, maxBytes: 1000 });
    for (let i = 0; i < 100; i += 1) small.write(line({ msg: `line ${i}` }));
    expect(small.size).toBeLessThan(20);
    expect(small.tail(1, 1 << 20).lines[0]!.msg).toBe('line 99');
  });

  it('tails the newest N lines within a byte budget, saying when it left some out', () => {
    const ring = new LogRing();
    for (let i = 0; i < 300; i += 1) ring.write(line({ msg: `line ${i}` }));
    const last = ring.tail(50, 1 << 20);
    expect(last.truncated).toBe(false);
    expect(last.lines).toHaveLength(50);
    expect(last.lines[0]!.msg).toBe('line 250');
    expect(last.lines[49]!.msg).toBe('line 299');
    const capped = ring.tail(300, 2000);
    expect(capped.truncated).toBe(true);
    expect(JSON.stringify(capped.lines).length).toBeLessThanOrEqual(2000);
    expect(capped.lines.at(-1)!.msg).toBe('line 299');
  });

  it('gets every line the logger writes, while the destination gets exactly what it got without it', () => {
    const capture = (): { out: string[]; stream: Writable } => {
      const out: string[] = [];
      return { out, stream: new Writable({ write: (chunk, _enc, done) => void (out.push(String(chunk)), done()) }) };
    };
    const plain = capture();
    const teed = capture();
    const ring = new LogRing();
    const logA = createLogger({ level: 'debug', destination: plain.stream, base: {} });
    const logB = createLogger({ level: 'debug', destination: teed.stream, base: {}, tee: ring });
    for (const log of [logA, logB]) {
      log.debug({ service: 'x', camera: 'c1' }, 'a debug line');
      log.info({ service: 'x', url: 'rtsp://u:secret@10.0.0.1/s' }, 'an info line');
      log.trace('below the level: nowhere');
    }
    const strip = (l: string) => l.replace(/"time":"[^"]+"/, '');
    expect(teed.out.map(strip)).toEqual(plain.out.map(strip));
    expect(plain.out).toHaveLength(2);
    expect(ring.tail(10, 1 << 20).lines.map((l) => [l.level, l.msg])).toEqual([
      ['debug', 'a debug line'],
      ['info', 'an info line'],
    ]);
    expect(JSON.stringify(ring.tail(10, 1 << 20))).not.toContain('secret');
  });
});
