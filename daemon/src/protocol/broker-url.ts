import { redactString } from '../log/redact.js';
import { UsageError } from '../util/errors.js';

/** A broker URL is MQTT over TLS only, host and port without user, path or query: `mqtts://host:8883`. */
export const MQTTS_URL_PATTERN = '^mqtts://[^\\s/?#@]+/?$';
/** The same, for a config key where empty means "not set here". */
export const MQTTS_URL_OR_EMPTY_PATTERN = `^$|${MQTTS_URL_PATTERN}`;
export const MQTTS_URL_HINT = "give the broker as mqtts://host:port (MQTT over TLS); a plain mqtt:// connection would carry the box's password and the evidence traffic in clear";

/** Throws a UsageError unless `url` is an mqtts:// broker URL. */
export function assertMqttsUrl(url: string, what: string): void {
  if (!new RegExp(MQTTS_URL_PATTERN).test(url)) {
    throw new UsageError(`${what} must be an mqtts:// URL (host and port only), not ${JSON.stringify(redactString(url).slice(0, 200))}`, { code: 'broker_url', hint: MQTTS_URL_HINT });
  }
}
