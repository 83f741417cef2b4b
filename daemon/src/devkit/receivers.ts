import { openForceDb } from '../force/database.js';
import { IntakeTallyRepo, type IntakeTally } from '../force/db/intake-tally.js';
import { SimulatedBox } from './evidence-box.js';
import { readEnvFile, type ForceKit } from './force.js';
import { ManagedProcess } from './process.js';

/**
 * Several `hindsight-force receive` processes on one force (tests and benchmarks): receiver 1 under the
 * installation's own identity, each further one under the identity the broker kit wrote for it (its
 * environment file), all on the same force.yaml, database and shared subscription. A receiver can be
 * killed -9 and started again under its identity; every process's output is kept, restarts included.
 */
export class ReceiverGroup {
  /** Every process started, in order, with the receiver (1..n) it ran as. */
  readonly runs: { receiver: number; process: ManagedProcess }[] = [];

  constructor(
    private readonly kit: ForceKit,
    /** How to run `receive` (program and arguments before `--config`), e.g. [node, .../force/main.js, 'receive']. */
    private readonly command: string[],
    /** Extra environment of every receiver (e.g. HSFORCE_LOG__LEVEL=debug for the per-message lines). */
    private readonly env: NodeJS.ProcessEnv = {},
  ) {}

  get size(): number {
    return this.kit.receivers.length + 1;
  }

  async startAll(): Promise<void> {
    for (let n = 1; n <= this.size; n++) await this.start(n);
  }

  /** Start receiver `n` (1-based) and wait until it receives. */
  async start(n: number): Promise<ManagedProcess> {
    const identity = n === 1 ? {} : readEnvFile(this.kit.receivers[n - 2]!.envFile);
    const [program, ...args] = this.command;
    const p = new ManagedProcess(program!, [...args, '--config', this.kit.forceConfig], { env: { ...process.env, ...this.env, ...identity } });
    this.runs.push({ receiver: n, process: p });
    await p.waitForLine(/receiving evidence/, 30_000);
    return p;
  }

  /** The process receiver `n` runs as now. */
  current(n: number): ManagedProcess {
    const run = this.runs.filter((r) => r.receiver === n).at(-1);
    if (!run) throw new Error(`receiver ${n} was never started`);
    return run.process;
  }

  async kill9(n: number): Promise<void> {
    await this.current(n).kill9();
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.runs.map((r) => r.process.stop(10_000)));
  }

  /**
   * Which receiver handled which evidence message, from their debug lines (`evidence message`, with its
   * topic): chunks per receiver, and per envelope the receivers its chunks went to.
   */
  spread(): { chunksPerReceiver: number[]; messagesPerRun: number[]; receiversPerEnvelope: Map<string, Set<number>> } {
    const chunksPerReceiver = Array.from({ length: this.size }, () => 0);
    const receiversPerEnvelope = new Map<string, Set<number>>();
    const messagesPerRun = this.runs.map(({ receiver, process }) => {
      let messages = 0;
      for (const line of process.lines) {
        if (!line.includes('"msg":"evidence message"')) continue;
        messages++;
        const topic = (JSON.parse(line) as { topic?: string }).topic ?? '';
        const m = /\/ev\/([0-9a-f]{32})\/(\d+)$/.exec(topic);
        if (!m) continue;
        chunksPerReceiver[receiver - 1]!++;
        const set = receiversPerEnvelope.get(m[1]!) ?? new Set<number>();
        set.add(receiver);
        receiversPerEnvelope.set(m[1]!, set);
      }
      return messages;
    });
    return { chunksPerReceiver, messagesPerRun, receiversPerEnvelope };
  }
}

export interface ReceiverCrashOptions {
  kit: ForceKit;
  receivers: ReceiverGroup;
  /** Enrolled boxes that send. */
  boxes: string[];
  perBox: number;
  /** Ciphertext bytes per chunk: small, so each envelope is several messages spread over the receivers. */
  chunkBytes: number;
  /** Bytes of padding in each package (its size). */
  padBytes: number;
  /** Folder for the packages the boxes make. */
  workDir: string;
  /** The receiver killed -9, when this share of the envelopes is stored, and started again `downMs` later. */
  victim: number;
  killAtShare: number;
  downMs: number;
  /** A box sends an envelope again, whole, when its `complete` receipt has not come in this time. */
  receiptTimeoutMs: number;
  /** Then the box gives up (the run fails). */
  maxSends: number;
  /** After the last receipt, how long without any evidence message counts as drained. */
  quietMs: number;
  log?: (line: string) => void;
}

export interface ReceiverCrashResult {
  envelopes: number;
  envelopeIds: string[];
  /** Per envelope, the `complete` receipts its box counted. */
  completeReceipts: number[];
  /** Envelopes its box sent again whole for want of a receipt. */
  wholeResends: number;
  storedAtKill: number;
  storedAtRestart: number;
  /** First publish to the last envelope's `complete` receipt. */
  drainMs: number;
  tally: IntakeTally;
  chunksPerReceiver: number[];
  /** Evidence messages each process handled (the victim's run before its kill and after its restart apart). */
  messagesPerRun: { receiver: number; messages: number }[];
  /** Envelopes whose chunks were handled by two receivers or more. */
  envelopesSpanningReceivers: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Boxes send evidence, one envelope after another each, to a group of receivers; one receiver is killed -9
 * mid-way and started again. Returns what the boxes got and what the force database holds.
 */
export async function runReceiverCrash(o: ReceiverCrashOptions): Promise<ReceiverCrashResult> {
  const log = o.log ?? ((): void => undefined);
  const boxes: SimulatedBox[] = [];
  const fdb = openForceDb(o.kit.forceDir);
  const tally = new IntakeTallyRepo(fdb.db);
  try {
    for (const id of o.boxes) boxes.push(await SimulatedBox.connect(o.kit, id, { chunkBytes: o.chunkBytes, resendMissing: true }));
    // packages made before anything is timed
    const packages = new Map<SimulatedBox, { plaintext: Buffer; incidentId: string }[]>();
    for (const b of boxes) packages.set(b, await Promise.all(Array.from({ length: o.perBox }, () => b.samplePackage(o.workDir, o.padBytes))));
    const total = boxes.length * o.perBox;
    const sent: { box: SimulatedBox; id: string }[] = [];
    let wholeResends = 0;
    let done = 0;
    const t0 = performance.now();
    const traffic = Promise.all(
      boxes.map(async (b) => {
        for (const p of packages.get(b)!) {
          const { id } = await b.send(p.plaintext, p.incidentId);
          sent.push({ box: b, id });
          for (let sends = 1; ; sends++) {
            try {
              await b.complete(id, o.receiptTimeoutMs);
              break;
            } catch (err) {
              if (sends >= o.maxSends) throw err;
              wholeResends++;
              await b.resend(id);
            }
          }
          done++;
        }
      }),
    );
    let failed: unknown;
    const finished = traffic.then(
      () => undefined,
      (err: unknown) => void (failed = err),
    );
    // the kill, mid-way, and the restart
    const stored = (): number => tally.storedCount(sent.map((s) => s.id));
    while (failed === undefined && done < total && stored() < total * o.killAtShare) await sleep(100);
    const storedAtKill = stored();
    await o.receivers.kill9(o.victim);
    log(`receiver ${o.victim} killed -9 with ${storedAtKill} of ${total} envelopes stored`);
    await sleep(o.downMs);
    const storedAtRestart = stored();
    await o.receivers.start(o.victim);
    log(`receiver ${o.victim} started again with ${storedAtRestart} of ${total} stored`);
    await finished;
    if (failed !== undefined) throw failed;
    const drainMs = performance.now() - t0;
    log(`every envelope receipted after ${Math.round(drainMs)} ms; waiting for the receivers to go quiet`);
    // what the broker still held for a receiver (a resent manifest, a chunk) is handled before the tally
    const handled = (): number => o.receivers.spread().messagesPerRun.reduce((a, b) => a + b, 0);
    for (let before = -1, now = handled(); now !== before; before = now, now = handled()) await sleep(o.quietMs);
    const envelopeIds = sent.map((s) => s.id);
    const spread = o.receivers.spread();
    return {
      envelopes: total,
      envelopeIds,
      completeReceipts: sent.map((s) => s.box.completeReceipts(s.id)),
      wholeResends,
      storedAtKill,
      storedAtRestart,
      drainMs,
      tally: tally.tally(envelopeIds),
      chunksPerReceiver: spread.chunksPerReceiver,
      messagesPerRun: o.receivers.runs.map((r, i) => ({ receiver: r.receiver, messages: spread.messagesPerRun[i]! })),
      envelopesSpanningReceivers: envelopeIds.filter((id) => (spread.receiversPerEnvelope.get(id)?.size ?? 0) >= 2).length,
    };
  } finally {
    for (const b of boxes) await b.close().catch(() => undefined);
    fdb.close();
  }
}
