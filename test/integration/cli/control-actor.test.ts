import { chownSync, linkSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlPaths } from '../../../daemon/src/control/paths.js';
import { makePeerProof, peerDir, PEER_HEADER, userName } from '../../../daemon/src/control/peer.js';
import { runCli, startDaemon, writeConfig } from '../../helpers/cli.js';
import { readDb } from '../../helpers/incidents.js';
import { tempDir } from '../../helpers/paths.js';
import type { TestProcess } from '../../helpers/process.js';
import { recorderConfigOverrides } from '../../helpers/recorder.js';

/**
 * The control socket names its caller by the user the kernel proves (a proof file's owner), never by a
 * name in the request: the CLI as root is `root`, a proof owned by another user is that user, and a
 * missing, reused, linked or stale proof is refused.
 */
describe('the control socket records its caller by proven user', () => {
  let dir: string;
  let stateDir: string;
  let config: string;
  let daemon: TestProcess;

  /** One operation request with a chosen proof header (or none). */
  const op = (name: string, input: Record<string, unknown>, proof: string | undefined): Promise<{ status: number; body: Record<string, unknown> }> => {
    const { socket, token } = controlPaths(stateDir);
    const payload = Buffer.from(JSON.stringify({ input }));
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          socketPath: socket,
          method: 'POST',
          path: `/v1/ops/${name}`,
          headers: { authorization: `Bearer ${readFileSync(token, 'utf8').trim()}`, 'content-type': 'application/json', 'content-length': payload.length, ...(proof ? { [PEER_HEADER]: proof } : {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> }));
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  };
  const addInput = (id: string) => ({ id, name: id, url: `rtsp://127.0.0.1:9/${id}`, enabled: false });
  const actorOf = (cameraId: string): { actor_type: string; actor_id: string } | undefined => {
    const db = readDb(stateDir);
    try {
      return db.prepare(`SELECT actor_type, actor_id FROM audit WHERE action = 'camera.added' AND object_ids LIKE ?`).get(`%"${cameraId}"%`) as { actor_type: string; actor_id: string } | undefined;
    } finally {
      db.close();
    }
  };

  beforeAll(async () => {
    dir = tempDir();
    stateDir = path.join(dir, 'state');
    config = writeConfig(dir, recorderConfigOverrides());
    daemon = startDaemon(config);
    await daemon.waitForLine(/"msg":"hindsight running"/, 60_000);
  });

  afterAll(async () => {
    await daemon?.stop();
  });

  it('names the CLI user the kernel proves, and a proof owned by another user as that user', async () => {
    const r = await runCli(['camera', 'add', '--config', config, '--id', 'door', '--name', 'Door', '--url', 'rtsp://127.0.0.1:9/door', '--disabled']);
    expect(r.code, r.stderr).toBe(0);
    expect(actorOf('door')).toEqual({ actor_type: 'cli', actor_id: userName(process.getuid!()) });

    // a proof file whose owner is another user (only root can make one) names that user, whatever the request says
    const proof = makePeerProof(stateDir);
    chownSync(path.join(peerDir(stateDir), proof.name), 65534, 65534);
    const answer = await op('camera.add', addInput('till'), proof.name);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(actorOf('till')).toEqual({ actor_type: 'cli', actor_id: userName(65534).replace(/[^A-Za-z0-9_-]/g, '_') });
    expect(userName(65534)).not.toBe(os.userInfo().username);
  });

  it('refuses a request that proves nothing, names its own actor, reuses, links or ages a proof', async () => {
    const refused = async (proof: string | undefined, why: RegExp, input = addInput('x')): Promise<void> => {
      const r = await op('camera.add', input, proof);
      expect(r.status, JSON.stringify(r.body)).toBe(401);
      expect(String(r.body.message)).toMatch(why);
    };
    await refused(undefined, /did not prove which user it runs as: no proof named/);
    await refused('../../control.token', /malformed/);
    await refused('0123456789abcdef0123456789abcdef', /no such proof/);

    // used once: the daemon deletes it
    const once = makePeerProof(stateDir);
    expect((await op('camera.add', addInput('once'), once.name)).status).toBe(200);
    await refused(once.name, /no such proof/);

    // a symbolic link to, or a second name of, someone else's file proves nothing about the caller
    const other = path.join(dir, 'someone-elses');
    writeFileSync(other, '');
    chownSync(other, 65534, 65534);
    const linkName = 'a'.repeat(32);
    symlinkSync(other, path.join(peerDir(stateDir), linkName));
    await refused(linkName, /not a plain file of its own/);
    const hardName = 'b'.repeat(32);
    linkSync(other, path.join(peerDir(stateDir), hardName));
    await refused(hardName, /not a plain file of its own/);

    const stale = makePeerProof(stateDir);
    const old = new Date(Date.now() - 5 * 60_000);
    utimesSync(path.join(peerDir(stateDir), stale.name), old, old);
    await refused(stale.name, /stale/);

    // the request cannot name who acts: an actor field is an unknown field
    const claim = makePeerProof(stateDir);
    const socket = controlPaths(stateDir);
    expect(socket.socket).toMatch(/control\.sock$/);
    const withActor = await new Promise<number>((resolve, reject) => {
      const payload = Buffer.from(JSON.stringify({ actor: { type: 'user', id: 'manager' }, input: addInput('claimed') }));
      const req = http.request(
        { socketPath: socket.socket, method: 'POST', path: '/v1/ops/camera.add', headers: { authorization: `Bearer ${readFileSync(socket.token, 'utf8').trim()}`, 'content-type': 'application/json', 'content-length': payload.length, [PEER_HEADER]: claim.name } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
    expect(withActor).toBe(400);
    expect(actorOf('claimed')).toBeUndefined();
    // nothing refused was done, and the daemon runs on
    for (const id of ['x', 'claimed']) expect(actorOf(id)).toBeUndefined();
    expect(daemon.child.running).toBe(true);
  });
});
