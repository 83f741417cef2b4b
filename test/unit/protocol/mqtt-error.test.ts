import { describe, expect, it } from 'vitest';
import { mqttErrorText } from '../../../daemon/src/protocol/mqtt.js';

describe('what an MQTT client error says in the log', () => {
  it('is never empty', () => {
    expect(mqttErrorText(new Error('Connection refused: Not authorized'))).toBe('Connection refused: Not authorized');
    // Node's connect over several addresses: an AggregateError with no message of its own
    const all = Object.assign(new AggregateError([new Error('connect ECONNREFUSED 127.0.0.1:1883'), new Error('connect ECONNREFUSED ::1:1883')], ''), { code: 'ECONNREFUSED' });
    expect(mqttErrorText(all)).toBe('connect ECONNREFUSED 127.0.0.1:1883; connect ECONNREFUSED ::1:1883');
    expect(mqttErrorText(Object.assign(new AggregateError([], ''), { code: 'ECONNREFUSED' }))).toBe('ECONNREFUSED');
    expect(mqttErrorText(Object.assign(new Error(''), { code: 135 }))).toBe('connection refused (reason code 135)');
    expect(mqttErrorText(Object.assign(new Error(''), { name: 'ErrorWithReasonCode' }))).toBe('ErrorWithReasonCode');
  });
});
