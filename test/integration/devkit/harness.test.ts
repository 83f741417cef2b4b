import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../../daemon/src/util/child.js';
import { decodeErrors, makeTestVideo, probe } from '../../helpers/media.js';
import { startBroker, type TestBroker } from '../../helpers/mosquitto.js';
import { tempDir } from '../../helpers/paths.js';
import { isAlive } from '../../helpers/process.js';
import { startCamera } from '../../helpers/rtsp-camera.js';
import { waitFor } from '../../helpers/wait.js';

describe('test harness: RTSP camera', () => {
  it('serves a live test pattern that ffmpeg records over TCP', async () => {
    const dir = tempDir();
    const cam = await startCamera({ width: 320, height: 240, fps: 10 });
    const out = path.join(dir, 'rec.ts');
    const r = await runCommand('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-rtsp_transport', 'tcp', '-timeout', '5000000', '-i', cam.url, '-t', '3', '-c', 'copy', '-f', 'mpegts', out], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    const info = await probe(out, true);
    expect(info.codec).toBe('h264');
    expect(info.width).toBe(320);
    expect(info.frames).toBeGreaterThanOrEqual(20);
    expect(await decodeErrors(out)).toBe('');
    await cam.stop();
  });

  it('replays an H.264 TS file, drops on kill -9 and comes back on the same port', async () => {
    const dir = tempDir();
    const file = await makeTestVideo(path.join(dir, 'src.ts'), { seconds: 4, width: 320, height: 240, fps: 10 });
    const cam = await startCamera({ mode: 'file', file });
    const port = cam.port;
    const grab = (): Promise<{ code: number | null }> =>
      runCommand('ffmpeg', ['-loglevel', 'error', '-rtsp_transport', 'tcp', '-timeout', '3000000', '-i', cam.url, '-t', '1', '-c', 'copy', '-f', 'null', '-'], { timeoutMs: 20_000 });
    expect((await grab()).code).toBe(0);
    const pid = cam.pid;
    await cam.kill9();
    expect(isAlive(pid)).toBe(false);
    expect((await grab()).code).not.toBe(0);
    await cam.start();
    expect(cam.port).toBe(port);
    expect((await grab()).code).toBe(0);
    await cam.stop();
  });
});

describe('test harness: Mosquitto with TLS, passwords and persistence', () => {
  let broker: TestBroker;
  const users = [
    { username: 'box-1', password: 'right-password' },
    { username: 'force', password: 'force-password' },
  ];

  beforeAll(async () => {
    broker = await startBroker({ dir: tempDir(), users });
  });
  afterAll(async () => {
    await broker?.stop();
  });

  function connect(username: string, password: string, extra: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
    return new Promise((resolve, reject) => {
      const client = mqtt.connect(broker.url, {
        ca: readFileSync(broker.ca),
        username,
        password,
        protocolVersion: 5,
        reconnectPeriod: 0,
        connectTimeout: 5000,
        ...extra,
      });
      client.once('connect', () => resolve(client));
      client.once('error', (err) => {
        client.end(true);
        reject(err);
      });
    });
  }

  it('accepts a TLS client with the right password and refuses a wrong one', async () => {
    const good = await connect('box-1', 'right-password');
    expect(good.connected).toBe(true);
    await good.endAsync();
    await expect(connect('box-1', 'wrong-password')).rejects.toThrow(/Bad User Name or Password|Not authorized/i);
  });

  it('refuses plaintext clients and clients that do not trust the CA', async () => {
    const plain = mqtt.connect(`mqtt://127.0.0.1:${broker.port}`, { username: 'box-1', password: 'right-password', reconnectPeriod: 0, connectTimeout: 3000 });
    const plainResult = await new Promise<string>((resolve) => {
      plain.once('connect', () => resolve('connected'));
      plain.once('error', () => resolve('error'));
      plain.once('close', () => resolve('closed'));
    });
    plain.end(true);
    expect(plainResult).not.toBe('connected');
    await expect(connect('box-1', 'right-password', { ca: undefined, rejectUnauthorized: true })).rejects.toThrow(/certificate/i);
  });

  it('keeps a persistent session and its queued QoS 1 messages across kill -9 of the broker', async () => {
    const topic = 'hindsight/v1/box-1/receipt';
    const sub = await connect('box-1', 'right-password', { clientId: 'box-1', clean: false, properties: { sessionExpiryInterval: 3600 } });
    await sub.subscribeAsync(topic, { qos: 1 });
    await sub.endAsync();

    const pub = await connect('force', 'force-password', { clientId: 'force-1' });
    for (let i = 0; i < 5; i++) await pub.publishAsync(topic, `receipt-${i}`, { qos: 1 });
    await pub.endAsync();

    const pid = broker.pid;
    await broker.kill9();
    expect(isAlive(pid)).toBe(false);
    await broker.restart();
    expect(readdirSync(path.join(path.dirname(broker.ca), '..', 'data')).length).toBeGreaterThan(0);

    const received: string[] = [];
    const again = await connect('box-1', 'right-password', { clientId: 'box-1', clean: false, properties: { sessionExpiryInterval: 3600 } });
    again.on('message', (_t, payload) => received.push(payload.toString()));
    await waitFor(() => received.length >= 5, { what: 'queued messages after broker restart', timeoutMs: 10_000 });
    expect(received.sort()).toEqual(['receipt-0', 'receipt-1', 'receipt-2', 'receipt-3', 'receipt-4']);
    await again.endAsync();
  });
});
