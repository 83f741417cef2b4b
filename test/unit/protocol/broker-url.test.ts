import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../daemon/src/config/load.js';
import { forceConfigLoader } from '../../../daemon/src/force/config-loader.js';
import { assertMqttsUrl } from '../../../daemon/src/protocol/broker-url.js';
import { MqttConnection } from '../../../daemon/src/protocol/mqtt.js';
import { issuesOf } from '../../helpers/config-issues.js';

const PLAIN = ['mqtt://broker.force.example:1883', 'ws://broker.force.example/mqtt', 'tcp://10.0.0.1:1883', 'mqtts://user:secret@broker:8883', 'mqtts://broker:8883/path?x=1', 'broker:8883'];

describe('broker URLs are TLS only (mqtts://)', () => {
  it('the box config refuses a plain or odd uplink.broker_url and says what to write', () => {
    for (const url of PLAIN) {
      const issues = issuesOf(() => parseConfig(`device: {id: shop-7}\nuplink: {broker_url: "${url}"}\n`));
      expect(issues, url).toEqual([{ path: 'uplink.broker_url', message: expect.stringMatching(/is not allowed: give the broker as mqtts:\/\/host:port \(MQTT over TLS\)/) }]);
      expect(JSON.stringify(issues)).not.toContain('secret');
    }
    expect(parseConfig('device: {id: shop-7}\nuplink: {broker_url: "mqtts://broker.force.example:8883"}\n').uplink.broker_url).toBe('mqtts://broker.force.example:8883');
    expect(parseConfig('device: {id: shop-7}\n').uplink.broker_url).toBe('');
  });

  it('the force config refuses a plain mqtt.url', () => {
    for (const url of PLAIN) {
      expect(issuesOf(() => forceConfigLoader.parse(`mqtt: {url: "${url}"}\n`)), url).toEqual([{ path: 'mqtt.url', message: expect.stringMatching(/mqtts:\/\/host:port/) }]);
    }
    expect(forceConfigLoader.parse('mqtt: {url: "mqtts://[::1]:8883"}\n').mqtt.url).toBe('mqtts://[::1]:8883');
  });

  it('the CLI check and the connection itself refuse anything but mqtts://', () => {
    expect(() => assertMqttsUrl('mqtt://127.0.0.1:1883', '--broker-url')).toThrow(/--broker-url must be an mqtts:\/\/ URL/);
    expect(() => assertMqttsUrl('mqtts://127.0.0.1:8883', '--broker-url')).not.toThrow();
    const conn = new MqttConnection({ url: 'mqtt://127.0.0.1:1', ca: '', username: 'u', password: 'p', clientId: 'c', clean: true, sessionExpiryS: 0, keepaliveS: 30, reconnectMs: 0, subscriptions: [], log: pino({ level: 'silent' }) });
    expect(() => conn.start()).toThrow(/the broker URL must be an mqtts:\/\//);
    expect(conn.connected).toBe(false);
  });
});
