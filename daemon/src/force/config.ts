import { Type, type Static } from '@sinclair/typebox';
import { integer, pathString, secret, section } from '../config/schema-helpers.js';
import { LogSection } from '../config/sections/core.js';
import { MQTTS_URL_HINT, MQTTS_URL_OR_EMPTY_PATTERN } from '../protocol/broker-url.js';

/**
 * The force side's own configuration file (receiver, open, incidents, search), separate from any box's.
 * Environment overrides use HSFORCE_<SECTION>__<KEY> so they never collide with a box's HINDSIGHT_*.
 * The programs read it with config-loader.ts, whose validator is generated from this schema: after a
 * change here, `npm run schema`.
 */
export const ForceConfigSchema = Type.Object(
  {
    force: section('The force installation.', {
      dir: pathString('Folder with keys/, keyset.json, the force database and the evidence store.', '.'),
      prefix: Type.String({ description: 'MQTT topic prefix shared with the boxes.', default: 'hindsight/v1', maxLength: 100 }),
      share_group: Type.String({ description: 'MQTT 5 shared-subscription group: receivers in one group share the load.', default: 'hindsight-receivers', pattern: '^[A-Za-z0-9_-]{1,64}$' }),
      client_id: Type.String({ description: 'MQTT client id of this receiver (stable, so its persistent session survives restarts).', default: 'force-receiver-1', maxLength: 64 }),
    }),
    mqtt: section('Broker connection of the force service.', {
      url: Type.String({ description: 'Broker URL (mqtts://host:port).', default: '', maxLength: 1024, pattern: MQTTS_URL_OR_EMPTY_PATTERN, patternHint: MQTTS_URL_HINT }),
      ca_file: pathString('CA certificate (PEM) of the broker.', ''),
      username: Type.String({ description: 'MQTT username of the force service.', default: 'svc.force', pattern: '^svc\\.[A-Za-z0-9_-]{1,60}$' }),
      password: secret('MQTT password of the force service; may be given as password_file.', { default: '' }),
      publish_timeout_ms: Type.Integer({ description: 'Deadline of one publish (receipts).', default: 10_000, minimum: 500 }),
    }),
    broker: section(
      "The Mosquitto on this machine that reads the kit's broker/passwd, as `hindsight-force revoke` reaches it: it removes the box's line and sends the broker SIGHUP, and the reload drops the box's live connection.",
      {
        pid_file: pathString(
          "Mosquitto's pid file (its own `pid_file` setting; Debian's is /run/mosquitto/mosquitto.pid). `revoke` signals the process named there, only if it is a mosquitto, and needs the right to (root, or the broker's user).",
          '/run/mosquitto/mosquitto.pid',
        ),
      },
    ),
    caps: section('Limits on what one box can make the receiver hold.', {
      max_envelope_bytes: Type.Integer({ description: 'Largest evidence package accepted (plaintext bytes).', default: 256 * 1024 * 1024, minimum: 1024 }),
      max_chunks: Type.Integer({ description: 'Most chunks per envelope.', default: 8192, minimum: 1 }),
      reassembly_timeout_s: Type.Number({ description: 'A partial envelope is dropped after this long (the box sends it again).', default: 3600, minimum: 1 }),
      max_pending_per_device: Type.Integer({ description: 'Envelopes one box may have in reassembly at once.', default: 8, minimum: 1 }),
      missing_after_s: Type.Number({ description: 'Ask the box for missing chunks when an incomplete envelope has been quiet this long.', default: 10, minimum: 0.2 }),
    }),
    intake: section("Back-pressure: what the receiver holds at once, and how much a flooding box can make it write.", {
      max_bytes_in_flight: Type.Integer({
        description:
          'Bytes of messages the receiver holds at once (waiting, being reassembled or stored). Above this it takes no more from the broker until it is below again: messages wait at the broker, none is dropped. Its memory stays within about this plus receive_maximum times the largest packet (256 KiB) and the envelope it is opening.',
        default: 32 * 1024 * 1024,
        minimum: 64 * 1024,
      }),
      receive_maximum: integer('MQTT 5 Receive Maximum: messages the broker sends this receiver before it acknowledges them.', 32, 1, 65_535),
      rejections_per_min: integer('Refused messages of one box recorded one by one (rejection row, audit row, log line) per minute, in a burst of as many; the rest are counted into a summary.', 20, 1, 100_000),
      rejections_summary_s: integer("Seconds over which a box's suppressed rejections are counted into one summary row and log line.", 60, 1, 86_400),
      metrics_listen: Type.String({
        description: "Loopback address where `hindsight-force receive` serves its own figures for Prometheus (GET /metrics, plain HTTP, no token): bytes in flight, pauses, messages, evidence outcomes, the broker link. 127.0.0.1:PORT or [::1]:PORT; empty: off. The database's figures are in the console's /metrics.",
        default: '',
        maxLength: 64,
      }),
    }),
    workbench: section('Triage and candidate lists.', {
      candidates_top_k: Type.Integer({ description: 'Candidates proposed per searched subject.', default: 10, minimum: 1, maximum: 100 }),
      candidate_threshold: Type.Number({
        description:
          'Cosine similarity a gallery photo must reach to be proposed. 0.34 is a false match rate of about 1 in 1000 per comparison on the development photos; a search compares every person, so the chance that a stranger gets some candidate grows with the gallery (measured in the README: 7 % of strangers at 76 persons). Raise it (0.48: about 1 % at that size) for fewer false candidates at the cost of missed mates.',
        default: 0.34,
        minimum: 0,
        maximum: 1,
      }),
      triage_max_days: Type.Integer({ description: 'Days an incident may wait untriaged; then it is deleted with a deletion receipt (at most 31).', default: 31, minimum: 1, maximum: 31 }),
      retention_days: Type.Integer({ description: 'Days after acceptance that the subjects of an incident without a possible match confirmed by two reviewers are kept; then they are deleted with a deletion receipt (the whole evidence when none is confirmed).', default: 90, minimum: 1, maximum: 3650 }),
      series_threshold: Type.Number({ description: 'Cosine similarity at which two subjects of accepted incidents are linked as possibly the same unknown person (a series); conservative on purpose: a reviewer can split a wrong link.', default: 0.45, minimum: 0, maximum: 1 }),
    }),
    gallery: section('Search of the custody gallery.', {
      index_min_photos: integer(
        'From this many photos of a model on, a search asks an approximate nearest-neighbour index (saved in <dir>/gallery/index, loaded at start) for a shortlist and scores only those photos exactly; below it every photo is compared exactly and no index is kept. Exact search costs about 10 ms per 1,000 photos (see the README).',
        20_000,
        0,
        100_000_000,
      ),
      index_shortlist: integer('Photos the index proposes for exact scoring per search; more finds more of the true nearest at some cost in time (see the README).', 200, 10, 10_000),
      index_expansion: integer("Breadth of the index's graph search (HNSW `ef`); more finds more of the true nearest at some cost in time (see the README).", 512, 16, 4096),
    }),
    console: section("The reviewers' web console (`hindsight-force console`), HTTPS only.", {
      enabled: Type.Boolean({ description: 'Allow the console to start. Off: `hindsight-force console` refuses, and only the command line is used.', default: true }),
      host: Type.String({ description: 'Address to listen on ("127.0.0.1": this machine only; the address of the force network the reviewers use, or "0.0.0.0" for every network).', default: '127.0.0.1', maxLength: 64 }),
      port: integer('HTTPS port (0 picks a free one; the console prints which).', 9443, 0, 65_535),
      cert_file: pathString("PEM certificate; empty means the console's own self-signed P-256 certificate, made at the first start in <dir>/web/.", ''),
      key_file: pathString('PEM private key of cert_file.', ''),
      session_idle_min: integer('Minutes of no use after which a login ends.', 30, 1, 24 * 60),
      session_max_h: integer('Hours after which a login ends, used or not.', 12, 1, 24 * 7),
      metrics_token_file: pathString(
        "File holding the token a Prometheus scraper sends to GET /metrics (`Authorization: Bearer <token>`): 32 or more visible characters on one line, mode 600, owned by the console's user. Empty: only a logged-in admin can read the metrics.",
        '',
      ),
    }),
    log: LogSection,
  },
  { additionalProperties: false, title: 'Hindsight force receiver configuration' },
);

export type ForceConfig = Static<typeof ForceConfigSchema>;
