import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startForceKit, type ForceKit } from '../../../daemon/src/devkit/force.js';
import { SimulatedBox } from '../../../daemon/src/devkit/evidence-box.js';
import { forcePaths } from '../../../daemon/src/force/paths.js';
import { startReceiver } from '../../helpers/chain.js';
import { query } from '../../helpers/evidence.js';
import { tempDir } from '../../helpers/paths.js';
import { isAlive, type TestProcess } from '../../helpers/process.js';
import { connectAs } from '../../helpers/uplink.js';
import { waitFor } from '../../helpers/wait.js';

const OTHERS = ['box-a', 'box-b', 'box-c'];
const FLOODER = 'box-flood';
const FLOOD = 10_000;
const PER_MIN = 20;
/** Below one chunk message (64 KiB + 24 + topic): every chunk takes the intake over the cap. */
const CAP = 64 * 1024;

interface LogLine {
  msg?: string;
  level?: number;
  device?: string;
  topic?: string;
}
const jsonLines = (p: TestProcess): LogLine[] =>
  p.lines.flatMap((l) => {
    try {
      return [JSON.parse(l) as LogLine];
    } catch {
      return [];
    }
  });

/**
 * Back-pressure on a real Mosquitto from the broker kit and the real receiver process: its intake capped
 * below one chunk, messages that wait at the broker, a box flooding its own topics while three others'
 * evidence keeps being stored, and a packet larger than the broker takes.
 */
describe('force receiver back-pressure', () => {
  let dir: string;
  let kit: ForceKit;
  let receiver: TestProcess;
  const boxes = new Map<string, SimulatedBox>();
  const db = (): string => forcePaths(kit.forceDir).db;
  const stored = (ids: string[]): number => query<{ n: number }>(db(), `SELECT count(*) AS n FROM envelopes WHERE state = 'stored' AND envelope_id IN (${ids.map(() => '?').join(',')})`, ...ids)[0]!.n;

  beforeAll(async () => {
    dir = tempDir('hs-backpressure-');
    kit = await startForceKit(dir, { devices: [...OTHERS, FLOODER].map((id) => ({ id, store: `Store ${id}` })) });
    const config = parse(readFileSync(kit.forceConfig, 'utf8')) as Record<string, unknown>;
    writeFileSync(kit.forceConfig, stringify({ ...config, intake: { max_bytes_in_flight: CAP, receive_maximum: 8, rejections_per_min: PER_MIN, rejections_summary_s: 2 } }), { mode: 0o600 });
    receiver = await startReceiver(kit);
    for (const id of [...OTHERS, FLOODER]) boxes.set(id, await SimulatedBox.connect(kit, id));
  }, 120_000);

  afterAll(async () => {
    for (const b of boxes.values()) await b.close();
    await receiver?.stop();
    await kit?.broker.stop();
  });

  it('evidence sent while the receiver is down waits at the broker; the capped intake then pauses, resumes and stores all of it', async () => {
    await receiver.stop();
    const sent: { box: SimulatedBox; id: string }[] = [];
    for (const name of OTHERS) {
      const box = boxes.get(name)!;
      for (let i = 0; i < 2; i++) {
        const p = await box.samplePackage(path.join(dir, 'packages'), 200_000);
        sent.push({ box, id: (await box.send(p.plaintext, p.incidentId)).id });
      }
    }
    expect(stored(sent.map((s) => s.id))).toBe(0);
    receiver = await startReceiver(kit);
    for (const s of sent) await s.box.complete(s.id, 120_000);
    expect(stored(sent.map((s) => s.id))).toBe(sent.length);
    const msgs = jsonLines(receiver).map((l) => l.msg ?? '');
    const paused = msgs.findIndex((m) => m.startsWith('intake paused'));
    expect(paused).toBeGreaterThanOrEqual(0);
    expect(msgs.slice(paused).some((m) => m === 'intake resumed')).toBe(true);
  }, 180_000);

  it("a box flooding its own topics with 10,000 junk messages leaves the others' evidence stored and receipted, and its rejections counted in bounded rows", async () => {
    const flooder = boxes.get(FLOODER)!;
    const started = Date.now();
    const flood = (async () => {
      const inFlight = new Set<Promise<unknown>>();
      for (let i = 0; i < FLOOD; i++) {
        const envelope = randomBytes(16).toString('hex');
        // junk chunks (no manifest, broken prefix), junk manifests (an enrolled box, bad schema), and topics outside the protocol
        const [topic, payload] =
          i % 3 === 0 ? [`${kit.prefix}/${FLOODER}/ev/${envelope}/0`, randomBytes(64)] : i % 3 === 1 ? [`${kit.prefix}/${FLOODER}/ev/${envelope}/m`, Buffer.from('{"junk":true}')] : [`${kit.prefix}/${FLOODER}/ev/not-an-envelope/m`, randomBytes(32)];
        const p = flooder.client.publishAsync(topic, payload, { qos: 1 }).finally(() => inFlight.delete(p));
        inFlight.add(p);
        if (inFlight.size >= 200) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
    })();
    const sent: { box: SimulatedBox; id: string }[] = [];
    for (let round = 0; round < 3; round++) {
      for (const name of OTHERS) {
        const box = boxes.get(name)!;
        const p = await box.samplePackage(path.join(dir, 'packages'), 50_000);
        sent.push({ box, id: (await box.send(p.plaintext, p.incidentId)).id });
      }
    }
    await flood;
    for (const s of sent) await s.box.complete(s.id, 120_000);
    expect(stored(sent.map((s) => s.id))).toBe(sent.length);

    // every junk message is counted: rows one by one, plus the counts of the summary rows
    type Row = { reason: string; detail: string };
    // by topic: a topic outside the protocol names no device, but the broker lets only the box write below its own name
    const rows = (): Row[] => query<Row>(db(), 'SELECT reason, detail FROM rejections WHERE (topic = ? OR topic LIKE ?) AND ts_utc >= ?', `${kit.prefix}/${FLOODER}`, `${kit.prefix}/${FLOODER}/%`, started);
    let last = 0;
    const counted = (rs: Row[]): number => rs.reduce((n, r) => n + (r.reason === 'suppressed' ? Number(/^(\d+) more rejections from box box-flood suppressed/.exec(r.detail)![1]) : 1), 0);
    const all = await waitFor(() => {
      const rs = rows();
      last = counted(rs);
      return last >= FLOOD ? rs : undefined;
    }, { timeoutMs: 60_000, what: `every junk message counted (${last} so far)` }).catch((err: Error) => {
      throw new Error(`${err.message}: ${last} counted`);
    });
    // QoS 1 is at least once: a message is delivered again only after a reconnection (the receiver's: its
    // Receive Maximum at most; the flooder's: its publishes in flight at most)
    const receiverReconnects = jsonLines(receiver).filter((l) => l.msg === 'mqtt connected').length - 1;
    expect(counted(all)).toBeLessThanOrEqual(FLOOD + 8 * receiverReconnects + 200 * (flooder.connects - 1));
    const single = all.filter((r) => r.reason !== 'suppressed');
    const summaries = all.filter((r) => r.reason === 'suppressed');
    // a burst of PER_MIN, then PER_MIN a minute
    const minutes = (Date.now() - started) / 60_000;
    expect(single.length).toBeLessThanOrEqual(Math.ceil(PER_MIN * (1 + minutes)));
    expect(summaries.length).toBeGreaterThan(0);
    expect(summaries.length).toBeLessThanOrEqual(Math.ceil((Date.now() - started) / 2000) + 1);
    // the log and the audit say as much, no more
    const lines = jsonLines(receiver);
    expect(lines.filter((l) => l.msg === 'evidence message rejected' && (l.device === FLOODER || l.topic?.startsWith(`${kit.prefix}/${FLOODER}/`)))).toHaveLength(single.length);
    expect(lines.filter((l) => l.device === FLOODER && /^\d+ more rejections from box box-flood suppressed/.test(l.msg ?? ''))).toHaveLength(summaries.length);
    const audit = query<{ n: number }>(db(), "SELECT count(*) AS n FROM audit WHERE action = 'evidence.rejected' AND actor_id = ? AND ts_utc >= ?", FLOODER, started)[0]!.n;
    expect(audit).toBe(single.length + summaries.length);
  }, 300_000);

  it('a packet larger than the broker takes is refused there; the receiver goes on storing evidence', async () => {
    // the flooder's own login, alone (a second connection under its name would take over the first)
    await boxes.get(FLOODER)!.close();
    boxes.delete(FLOODER);
    const b = JSON.parse(readFileSync(kit.bundle(FLOODER), 'utf8')) as { mqtt: { username: string; password: string } };
    const raw = await connectAs(kit.broker, b.mqtt.username, b.mqtt.password, { clientId: FLOODER });
    const closed = new Promise<void>((resolve) => raw.once('close', () => resolve()));
    raw.publish(`${kit.prefix}/${FLOODER}/ev/${'ab'.repeat(16)}/0`, Buffer.alloc(400 * 1024), { qos: 1 });
    await closed;
    raw.end(true);
    expect(isAlive(receiver.pid)).toBe(true);
    const box = boxes.get('box-a')!;
    const p = await box.samplePackage(path.join(dir, 'packages'));
    const { id } = await box.send(p.plaintext, p.incidentId);
    await box.complete(id, 60_000);
    expect(stored([id])).toBe(1);
  }, 120_000);
});
