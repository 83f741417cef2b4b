import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../daemon/src/log/logger.js';
import { redactString } from '../../../daemon/src/log/redact.js';

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { stream, text: () => chunks.join('') };
}

const SECRETS = ['hunter2', 'Sup3rS3cret', 'tok-abc123', 'k3y-material', 'pinpin'];

describe('log redaction', () => {
  it('never writes passwords, RTSP credentials, tokens or keys', () => {
    const out = capture();
    const log = createLogger({ destination: out.stream, level: 'trace' });
    log.info({ camera: { url: 'rtsp://admin:hunter2@10.0.0.5:554/stream1', password: 'Sup3rS3cret' } }, 'camera added');
    log.warn('connect to rtsp://admin:hunter2@10.0.0.5/live failed');
    log.info({ token: 'tok-abc123', authorization: 'Bearer tok-abc123', signing_key: 'k3y-material', nested: [{ apiKey: 'tok-abc123' }] }, 'auth');
    log.error({ err: new Error('ffmpeg: rtsp://u:hunter2@cam/x: 401 Unauthorized') }, 'recorder failed');
    log.info({ query: 'user=x&password=Sup3rS3cret&pin=pinpin' }, 'login');
    log.info({ pin: 'pinpin' }, 'staff pin');
    const text = out.text();
    for (const s of SECRETS) expect(text).not.toContain(s);
    // what is not secret stays readable
    expect(text).toContain('rtsp://***@10.0.0.5:554/stream1');
    expect(text).toContain('401 Unauthorized');
    expect(text.trim().split('\n')).toHaveLength(6);
    for (const line of text.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
  });

  it('keeps booleans that merely mention a secret (e.g. token_valid: true)', () => {
    const out = capture();
    createLogger({ destination: out.stream }).info({ password_set: true, tokens: 3 }, 'x');
    const line = JSON.parse(out.text()) as Record<string, unknown>;
    expect(line.password_set).toBe(true);
  });

  it('scrubs userinfo from any URL scheme', () => {
    expect(redactString('mqtts://dev:pw@broker:8883 and rtsps://a@b/c')).toBe('mqtts://***@broker:8883 and rtsps://***@b/c');
  });
});
