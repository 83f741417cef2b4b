/**
 * The camera relay process (relay-host.ts starts it): the RTSP relays between ffmpeg and the cameras run here,
 * in a process of their own, so that a pause of the daemon (a long garbage collection, swap, a slow disk)
 * never stops the video on its way to ffmpeg. It takes orders over the IPC channel only (credentials never
 * travel in argv or the environment) and ends when the daemon's channel closes.
 */
import type { RelayReply, RelayRequest } from './relay-host.js';
import { RelayPace } from './relay-pace.js';
import { RtspRelay, type RelayUpstream } from './rtsp-relay.js';

process.title = 'hindsight-relay';
const relays = new Map<number, RtspRelay>();
const pace = new RelayPace(() => relays.values());
const reply = (m: RelayReply): void => {
  process.send?.(m);
};

process.on('message', (m: RelayRequest) => {
  if (m.t === 'open') {
    RtspRelay.open(m.upstream as RelayUpstream, m.pathAndQuery, { allowedUid: m.allowedUid, unpacedStartMs: m.unpacedStartMs }).then(
      (relay) => {
        relays.set(m.id, relay);
        pace.start();
        reply({ t: 'opened', id: m.id, url: relay.url });
      },
      (err: Error) => reply({ t: 'failed', id: m.id, message: err.message }),
    );
  } else if (m.t === 'close') {
    const relay = relays.get(m.id);
    relays.delete(m.id);
    relay?.close();
    reply({ t: 'closed', id: m.id, refusal: relay?.refusal });
  }
});
// the daemon ended (or died): nothing is left to relay for
process.on('disconnect', () => process.exit(0));
