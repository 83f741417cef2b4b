import { Type } from '@sinclair/typebox';
import { integer, pathString, section } from '../schema-helpers.js';

export const WebSection = section("The box's web app (staff page and manager console), HTTPS only.", {
  enabled: Type.Boolean({ description: 'Serve the web app (staff page, manager console, hardware buttons). Off: only the CLI.', default: true }),
  host: Type.String({ description: 'Address to listen on ("0.0.0.0": every network of the box; "127.0.0.1": this machine only).', default: '0.0.0.0', maxLength: 64 }),
  port: integer('HTTPS port (0 picks a free one; the log says which).', 8443, 0, 65_535),
  cert_file: pathString("PEM certificate; empty means the box's own self-signed P-256 certificate, made at the first start.", ''),
  key_file: pathString('PEM private key of cert_file.', ''),
  session_idle_min: integer('Minutes of no use after which a login ends.', 30, 1, 24 * 60),
  session_max_h: integer('Hours after which a login ends, used or not.', 12, 1, 24 * 7),
  metrics_token_file: pathString(
    "File holding the token a Prometheus scraper sends to GET /metrics (`Authorization: Bearer <token>`): 32 or more visible characters on one line, mode 600, owned by the daemon's user. Empty: only a logged-in manager can read the metrics.",
    '',
  ),
});
