import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MqttConnection } from '../../../daemon/src/protocol/mqtt.js';
import { silentLogger } from '../../../daemon/src/log/logger.js';
import { startDaemon, writeConfig } from '../../helpers/cli.js';
import { enrollBox, makePackageFolder, query, startForceKit, type ForceKit } from '../../helpers/evidence.js';
import { tempDir } from '../../helpers/paths.js';
import { connectAs, sealFolder } from '../../helpers/uplink.js';
import { waitFor } from '../../helpers/wait.js';
import { generateKeyPair, readKeyFile } from '../../../daemon/src/crypto/keys.js';
import { verifyAuditHead, type SignedAuditHead } from '../../../daemon/src/uplink/audit-head.js';
import { signReceipt } from '../../../daemon/src/force/receipts.js';

/** The broker refuses what the protocol forbids. Checked by delivery, not SUBACK (Mosquitto grants, then drops). */
const OBSERVER = { username: 'svc.observer', password: 'observer-password-1234' };
const EV = 'ab'.repeat(16);

describe('uplink over the broker: generated ACL, credentials, retained state, forged receipts', () => {
  let kit: ForceKit;
  let dir: string;
  let observer: mqtt.MqttClient;
  const seen: { topic: string; payload: string; retain: boolean }[] = [];
  const password = (id: string): string => (JSON.parse(readFileSync(kit.bundle(id), 'utf8')) as { mqtt: { password: string } }).mqtt.password;
  const quiet = (ms = 1500): Promise<void> => new Promise((r) => setTimeout(r, ms));

  beforeAll(async () => {
    dir = tempDir('hs-broker-');
    kit = await startForceKit(dir, { devices: [{ id: 'box-a', store: 'A' }, { id: 'box-b', store: 'B' }], forceUsers: [OBSERVER] });
    observer = await connectAs(kit.broker, OBSERVER.username, OBSERVER.password);
    observer.on('message', (topic, payload, packet) => seen.push({ topic, payload: payload.toString(), retain: packet.retain }));
    await observer.subscribeAsync(['hindsight/v1/+/ev/+/+', 'hindsight/v1/+/state', 'hindsight/v1/+/audit/head'], { qos: 1 });
  });
  afterAll(async () => {
    observer?.end(true);
    await kit?.broker.stop();
  });

  it("a device publishing into another device's topics is not delivered; its own topics are", async () => {
    const b = await connectAs(kit.broker, 'box-b', password('box-b'));
    // Mosquitto answers an MQTT 5 PUBACK "Not authorized"; what matters is that nothing is delivered.
    await expect(b.publishAsync(`hindsight/v1/box-a/ev/${EV}/m`, 'forged', { qos: 1 })).rejects.toThrow(/Not authorized/);
    await expect(b.publishAsync('hindsight/v1/box-a/state', 'forged', { qos: 1 })).rejects.toThrow(/Not authorized/);
    await b.publishAsync(`hindsight/v1/box-b/ev/${EV}/m`, 'own', { qos: 1 });
    await waitFor(() => seen.some((m) => m.topic === `hindsight/v1/box-b/ev/${EV}/m`), { what: 'own-topic publish delivered (control)' });
    await quiet();
    expect(seen.filter((m) => m.topic.startsWith('hindsight/v1/box-a/'))).toEqual([]);
    // a device cannot write downward topics either (a fake receipt to itself)
    await expect(b.publishAsync('hindsight/v1/box-b/receipt', 'self-made', { qos: 1 })).rejects.toThrow(/Not authorized/);
    b.end(true);
  });

  it("a device cannot read another device's receipts, commands or desired configuration (delivery checked), nor write its replies, and cannot take over its session", async () => {
    const a = await connectAs(kit.broker, 'box-a', password('box-a'));
    const b = await connectAs(kit.broker, 'box-b', password('box-b'), { clientId: 'box-a' });
    const gotA: string[] = [];
    const gotB: string[] = [];
    a.on('message', (_t, p) => gotA.push(p.toString()));
    b.on('message', (_t, p) => gotB.push(p.toString()));
    await a.subscribeAsync(['hindsight/v1/box-a/receipt', 'hindsight/v1/box-a/cmd', 'hindsight/v1/box-a/config/desired'], { qos: 1 });
    await b.subscribeAsync(['hindsight/v1/box-a/receipt', 'hindsight/v1/box-a/cmd', 'hindsight/v1/+/cmd', 'hindsight/v1/box-a/config/desired', 'hindsight/v1/+/receipt', 'hindsight/v1/#'], { qos: 1 });
    await observer.publishAsync('hindsight/v1/box-a/receipt', 'for-a', { qos: 1 });
    await observer.publishAsync('hindsight/v1/box-a/cmd', 'command-for-a', { qos: 1 });
    await observer.publishAsync('hindsight/v1/box-a/config/desired', 'config-for-a', { qos: 1 });
    await waitFor(() => ['for-a', 'command-for-a', 'config-for-a'].every((m) => gotA.includes(m)), { what: 'box-a gets its receipt, command and configuration (control)' });
    await quiet();
    expect(gotB).toEqual([]);
    // nor can it answer for box-a or report box-a's configuration
    for (const t of ['hindsight/v1/box-a/cmd/res', 'hindsight/v1/box-a/config/reported', 'hindsight/v1/box-a/audit/head']) await expect(b.publishAsync(t, 'forged', { qos: 1 }), t).rejects.toThrow(/Not authorized/);
    expect(a.connected).toBe(true); // box-b asked for client id box-a; the broker used its username instead
    a.end(true);
    b.end(true);
  });

  it('wrong or missing credentials are refused; an oversized publish fails within its timeout and the client survives', async () => {
    await expect(connectAs(kit.broker, 'box-a', 'wrong-password-123456')).rejects.toThrow(/Not authorized|Bad User Name or Password/i);
    await expect(connectAs(kit.broker, '', '')).rejects.toThrow();
    const link = new MqttConnection({ url: kit.broker.url, ca: readFileSync(kit.broker.ca), username: 'box-b', password: password('box-b'), clientId: 'box-b', clean: true, sessionExpiryS: 0, keepaliveS: 30, reconnectMs: 300, subscriptions: [], log: silentLogger });
    link.start();
    await waitFor(() => link.connected, { what: 'connected' });
    await expect(link.publish(`hindsight/v1/box-b/ev/${EV}/0`, Buffer.alloc(400 * 1024), 2000)).rejects.toThrow(/exceeds the \d+-byte limit/);
    await link.publish(`hindsight/v1/box-b/ev/${EV}/1`, Buffer.alloc(1024), 5000);
    await link.stop();
    // A raw client that sends it anyway is cut off by the broker (message_size_limit), not served.
    const raw = await connectAs(kit.broker, 'box-b', password('box-b'));
    const closed = new Promise<void>((resolve) => raw.once('close', () => resolve()));
    raw.publish(`hindsight/v1/box-b/ev/${EV}/2`, Buffer.alloc(400 * 1024), { qos: 1 });
    await closed;
    raw.end(true);
    await quiet(500);
    expect(seen.some((m) => m.topic.endsWith(`${EV}/2`))).toBe(false);
  });

  it('retained online state with a LWT: kill -9 of the daemon leaves `offline`; a restart and a broker restart republish `online`', async () => {
    mkdirSync(path.join(dir, 'box-a'), { recursive: true });
    const config = writeConfig(path.join(dir, 'box-a'), { device: { id: 'box-a', store: 'A' }, uplink: { reconnect_ms: 300, keepalive_s: 5 } });
    enrollBox(config, kit.bundle('box-a'), kit.forceDir);
    const state = (): { state: string; bd_seq: number } | undefined => {
      const last = seen.filter((m) => m.topic === 'hindsight/v1/box-a/state').at(-1);
      return last && (JSON.parse(last.payload) as { state: string; bd_seq: number });
    };
    let daemon = startDaemon(config);
    await waitFor(() => state()?.state === 'online', { timeoutMs: 30_000, what: 'online' });
    const first = state()!.bd_seq;
    // The signed audit head is published after connecting; it verifies with the device key.
    const head = await waitFor(() => seen.find((m) => m.topic === 'hindsight/v1/box-a/audit/head'), { timeoutMs: 15_000, what: 'audit head' });
    const signedHead = JSON.parse(head.payload) as SignedAuditHead;
    const deviceKey = readKeyFile(path.join(dir, 'box-a', 'state', 'keys', 'device.key'));
    expect(signedHead.head.count).toBeGreaterThan(0);
    expect(head.retain).toBe(false); // delivered live; it is also retained for later subscribers
    expect(verifyAuditHead(signedHead, deviceKey.pk)).toBe(true);
    expect(verifyAuditHead({ ...signedHead, head: { ...signedHead.head, count: signedHead.head.count - 1 } }, deviceKey.pk)).toBe(false);
    daemon.child.signal('SIGKILL');
    await waitFor(() => state()?.state === 'offline', { timeoutMs: 30_000, what: 'LWT offline' });
    daemon = startDaemon(config);
    await waitFor(() => state()?.state === 'online' && state()!.bd_seq > first, { timeoutMs: 30_000, what: 'online again with a new bd_seq' });

    await kit.broker.kill9();
    await kit.broker.restart();
    observer.end(true);
    observer = await connectAs(kit.broker, OBSERVER.username, OBSERVER.password);
    seen.length = 0;
    observer.on('message', (topic, payload, packet) => seen.push({ topic, payload: payload.toString(), retain: packet.retain }));
    await observer.subscribeAsync(['hindsight/v1/+/state'], { qos: 1 });
    await waitFor(() => seen.some((m) => m.topic === 'hindsight/v1/box-a/state' && m.retain && JSON.parse(m.payload).state === 'online'), { timeoutMs: 30_000, what: `retained online state after the broker restart; saw ${JSON.stringify(seen)}; daemon: ${daemon.output.slice(-2000)}` });

    // A forged receipt (not signed by the force key set) is ignored: the envelope stays pending.
    const pkg = await makePackageFolder(path.join(dir, 'pkg-forged'), { subjects: 1 });
    const envelope = await sealFolder(config, pkg.dir, 'inc-forged');
    const boxDb = path.join(dir, 'box-a', 'state', 'hindsight.db');
    await waitFor(() => query<{ attempts: number }>(boxDb, 'SELECT attempts FROM outbox WHERE envelope_id = ?', envelope)[0]!.attempts >= 1, { timeoutMs: 30_000, what: 'sent' });
    const body = query<{ body_sha256: string }>(boxDb, 'SELECT body_sha256 FROM outbox WHERE envelope_id = ?', envelope)[0]!.body_sha256;
    const forged = signReceipt(generateKeyPair('ed25519'), { envelope, device_id: 'box-a', body_sha256: body, status: 'complete', missing: [], ts: Date.now() });
    await observer.publishAsync('hindsight/v1/box-a/receipt', JSON.stringify(forged), { qos: 1 });
    await waitFor(() => query(boxDb, "SELECT 1 FROM audit WHERE action = 'receipt.rejected' AND result = 'denied'").length > 0, { timeoutMs: 15_000, what: 'forged receipt audited' });
    expect(query<{ state: string }>(boxDb, 'SELECT state FROM outbox WHERE envelope_id = ?', envelope)[0]!.state).toBe('pending');
    // A clean stop says `offline` itself (the will only fires on a lost connection).
    await daemon.stop();
    await waitFor(() => state()?.state === 'offline', { timeoutMs: 15_000, what: 'offline after a clean stop' });
  });
});
