import type net from 'node:net';

/**
 * For fake RTSP cameras in tests: split what a client writes on `socket` into requests (head up to the
 * blank line; these fakes take no request bodies) and hand each one on with its CSeq.
 */
export function onRtspRequests(socket: net.Socket, handle: (head: string, cseq: string) => void): void {
  let text = '';
  socket.on('error', () => undefined);
  socket.on('data', (d: Buffer) => {
    text += d.toString('latin1');
    let end: number;
    while ((end = text.indexOf('\r\n\r\n')) >= 0) {
      const head = text.slice(0, end);
      text = text.slice(end + 4);
      handle(head, /^CSeq:\s*(\d+)/im.exec(head)?.[1] ?? '0');
    }
  });
}
