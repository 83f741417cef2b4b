import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { intOption } from '../../program/args.js';
import { assertMqttsUrl } from '../../protocol/broker-url.js';
import { systemClock } from '../../util/clock.js';
import { MAX_RECEIVERS, receiverUsers, writeBrokerKit, writeReceiverIdentities } from '../broker-kit.js';
import { enrollDevice } from '../enroll.js';
import { forceKeygen, revokeRecipientKey, rotateRecipientKey } from '../keys.js';
import { forcePaths } from '../paths.js';
import { DeviceRegistry } from '../registry.js';
import { receiverIdentities, retireReceiver } from '../retire-receiver.js';
import { revokeDevice } from '../revoke.js';
import { openForceSession } from './session.js';

/** The force's commands (keys, enrollment, broker kit, receiver, verification, search) on `hindsight-force`. */
export function registerForceKeys(force: Command): void {

  force
    .command('keygen')
    .description('create a force installation in DIR: root key, HPKE recipient key, receipt and command keys, signed key set, MQTT password, force.yaml')
    .requiredOption('--dir <dir>', 'folder for the force installation')
    .requiredOption('--broker-url <url>', "the force's broker as boxes reach it (mqtts://host:port), written into force.yaml and every enrollment bundle")
    .option('--ca <file>', 'broker CA certificate (PEM) written into force.yaml')
    .option('--prefix <prefix>', 'MQTT topic prefix', 'hindsight/v1')
    .option('--validity-days <n>', 'how long the keys are valid', intOption('--validity-days', 1, 3650, 'days'), 365)
    .action(async (opts: { dir: string; brokerUrl: string; ca?: string; prefix: string; validityDays: number }) => {
      assertMqttsUrl(opts.brokerUrl, '--broker-url');
      const r = forceKeygen(opts.dir, { now: systemClock.now(), validityDays: opts.validityDays, brokerUrl: opts.brokerUrl, caFile: opts.ca && path.resolve(opts.ca), prefix: opts.prefix });
      const fdb = await openForceSession(opts.dir);
      fdb.audit.append({ actor: fdb.actor, action: 'keyset.issued', objectIds: [String(r.keyset.keyset.seq)], detail: { root_kid: r.root.kid, recipients: r.keyset.keyset.recipients.map((k) => k.kid) } });
      fdb.close();
      process.stdout.write(`force keys in ${forcePaths(opts.dir).keysDir} (0600); root key ${r.root.kid}; key set seq 1 to ${r.keyset.keyset.recipients.map((k) => k.kid).join(', ')}\nconfig: ${r.config}\nkeep keys/root.key offline once the boxes are enrolled.\n`);
    });

  force
    .command('rotate')
    .description('add a new recipient key and renew the receipt and command signers (key set seq + 1); the old recipient key stays valid for the overlap so boxes keep sealing while they update')
    .requiredOption('--dir <dir>', 'force installation folder')
    .option('--overlap-days <n>', 'how long the old recipient key stays valid', intOption('--overlap-days', 1, 365, 'days'), 30)
    .option('--validity-days <n>', 'validity of the new key', intOption('--validity-days', 1, 3650, 'days'), 365)
    .action(async (opts: { dir: string; overlapDays: number; validityDays: number }) => {
      const s = rotateRecipientKey(opts.dir, { now: systemClock.now(), overlapDays: opts.overlapDays, validityDays: opts.validityDays });
      const fdb = await openForceSession(opts.dir);
      fdb.audit.append({ actor: fdb.actor, action: 'keyset.issued', objectIds: [String(s.keyset.seq)], detail: { recipients: s.keyset.recipients.map((k) => k.kid) } });
      fdb.close();
      process.stdout.write(`key set seq ${s.keyset.seq}: recipients ${s.keyset.recipients.map((k) => k.kid).join(', ')}\nsend it to every box: hindsight force fleet cmd all set_key_set\n`);
    });

  force
    .command('revoke-key')
    .description('withdraw a recipient key (key set seq + 1, the kid listed as revoked): boxes stop sealing to it and envelopes sealed to it from now on are refused')
    .requiredOption('--dir <dir>', 'force installation folder')
    .requiredOption('--kid <kid>', 'recipient key id')
    .requiredOption('--reason <text>', 'why (audited)')
    .action(async (opts: { dir: string; kid: string; reason: string }) => {
      const s = revokeRecipientKey(opts.dir, { kid: opts.kid, now: systemClock.now() });
      const fdb = await openForceSession(opts.dir);
      fdb.audit.append({ actor: fdb.actor, action: 'keyset.key_revoked', objectIds: [opts.kid, String(s.keyset.seq)], justification: opts.reason, detail: { recipients: s.keyset.recipients.map((k) => k.kid) } });
      fdb.close();
      process.stdout.write(`key set seq ${s.keyset.seq}: ${opts.kid} revoked; recipients ${s.keyset.recipients.map((k) => k.kid).join(', ')}\nsend it to every box: hindsight force fleet cmd all set_key_set (or, on a box, hindsight uplink install-keyset)\n`);
    });

  force
    .command('enroll')
    .description('enroll a box: writes its bundle (broker URL, CA, MQTT credentials, root-signed key set, pinned root key), 0600, and its broker password hash')
    .requiredOption('--dir <dir>', 'force installation folder')
    .requiredOption('--device <id>', 'device id of the box')
    .requiredOption('--broker-url <url>', 'broker URL the box connects to (mqtts://host:port)')
    .requiredOption('--ca <file>', 'CA certificate (PEM) of the broker')
    .option('--store <name>', 'shop name', '')
    .option('--prefix <prefix>', 'MQTT topic prefix', 'hindsight/v1')
    .option('-o, --out <file>', 'bundle file (default: DIR/bundles/<device>.bundle.json)')
    .action(async (opts: { dir: string; device: string; brokerUrl: string; ca: string; store: string; prefix: string; out?: string }) => {
      assertMqttsUrl(opts.brokerUrl, '--broker-url');
      const fdb = await openForceSession(opts.dir);
      try {
        const r = enrollDevice({ dir: opts.dir, deviceId: opts.device, store: opts.store, brokerUrl: opts.brokerUrl, caPem: readFileSync(opts.ca, 'utf8'), prefix: opts.prefix, now: systemClock.now(), db: fdb.db, audit: fdb.audit, actor: fdb.actor, out: opts.out });
        process.stdout.write(`bundle for ${opts.device}: ${r.file} (0600; it holds the box's MQTT password)\nbroker password file updated: ${forcePaths(opts.dir).brokerPasswd}\nnext: on the box run \`hindsight enroll ${path.basename(r.file)}\`, then \`hindsight force register\` with the key it prints\n`);
      } finally {
        fdb.close();
      }
    });

  force
    .command('register')
    .description("pin a box's signing public key (printed by `hindsight enroll` on the box); evidence is accepted only when signed by it")
    .requiredOption('--dir <dir>', 'force installation folder')
    .requiredOption('--device <id>', 'device id')
    .requiredOption('--key <pk>', 'the device public key (base64url)')
    .option('--replace', 'replace the key the box already has (the old key is kept to verify the evidence it signed)')
    .action(async (opts: { dir: string; device: string; key: string; replace?: boolean }) => {
      const fdb = await openForceSession(opts.dir);
      try {
        const r = fdb.db.transaction(() => {
          const k = new DeviceRegistry(fdb.db).register(opts.device, opts.key, systemClock.now(), { replace: opts.replace === true });
          fdb.audit.append({ actor: fdb.actor, action: 'device.key_registered', objectIds: [opts.device], detail: k.replaced ? { kid: k.kid, replaced_kid: k.replaced } : { kid: k.kid } });
          return k;
        })();
        process.stdout.write(`device ${opts.device}: signing key ${r.kid} registered${r.replaced ? ` (replaces ${r.replaced}, kept to verify the evidence it signed)` : ''}\n`);
      } finally {
        fdb.close();
      }
    });

  force
    .command('revoke')
    .description("revoke a box (lost or stolen): its evidence and health are refused from now on, its line leaves broker/passwd and Mosquitto is reloaded (broker.pid_file in DIR/force.yaml), which drops its connection and refuses it from then on; exits non-zero, saying what to do, when the broker part fails")
    .requiredOption('--dir <dir>', 'force installation folder')
    .requiredOption('--device <id>', 'device id')
    .requiredOption('--reason <text>', 'why (audited)')
    .action(async (opts: { dir: string; device: string; reason: string }) => {
      const fdb = await openForceSession(opts.dir);
      try {
        const r = revokeDevice({ db: fdb.db, audit: fdb.audit, actor: fdb.actor, dir: opts.dir, deviceId: opts.device, reason: opts.reason });
        process.stdout.write(`device ${opts.device} revoked${r.alreadyRevoked ? ' (it already was)' : ''}: its evidence and health are refused from now on\n`);
        // the revocation and its audit row stand; the broker part is what the operator must finish
        if (r.failure) throw r.failure;
        if (r.broker.skipped) {
          process.stdout.write(`broker: nothing to do (${r.broker.skipped}); if another broker knows this box, remove its user there\n`);
          return;
        }
        const line = r.broker.passwd_removed ? `its line removed from ${r.passwdFile}` : `no line for it in ${r.passwdFile}`;
        process.stdout.write(`broker: ${line}; Mosquitto (pid ${r.broker.pid}) reloaded: its connection is dropped and it cannot log in again\n`);
      } finally {
        fdb.close();
      }
    });

  force
    .command('retire-receiver')
    .description("retire receiver N of several for good (the highest-numbered; never receiver 1): its password is replaced and Mosquitto reloaded (broker.pid_file in DIR/force.yaml), which drops it; its broker session, queued messages and share of the intake end (the boxes resend what was queued there); its user leaves broker/passwd and the ACL, its password and environment files are deleted")
    .requiredOption('--dir <dir>', 'force installation folder')
    .requiredOption('--receiver <n>', 'the receiver to retire (2 and up, the highest one)', intOption('--receiver', 1, MAX_RECEIVERS))
    .action(async (opts: { dir: string; receiver: number }) => {
      const fdb = await openForceSession(opts.dir);
      try {
        const r = await retireReceiver({ dir: opts.dir, n: opts.receiver, audit: fdb.audit, actor: fdb.actor });
        process.stdout.write(
          `receiver ${r.n} (${r.username}) retired: its broker session and its share of the intake ended, its login and files removed; Mosquitto (pid ${r.pid}) reloaded\n` +
            `receivers left: ${r.remaining.join(', ')}; stop and disable its unit (e.g. systemctl disable --now hindsight-force-${r.n}) if it is still there\n`,
        );
      } finally {
        fdb.close();
      }
    });

  force
    .command('broker-config')
    .description('write the Mosquitto kit into DIR/broker: ACL generated from the protocol topic table, password file, config snippet; with --receivers N, a broker identity for each of N receivers')
    .requiredOption('--dir <dir>', 'force installation folder')
    .option('--prefix <prefix>', 'MQTT topic prefix', 'hindsight/v1')
    .option('--port <port>', 'TLS listener port (the only listener)', intOption('--port', 1, 65535), 8883)
    .option('--bind <address>', 'address the TLS listener binds to (default: every address)')
    .option('--certfile <file>', 'broker certificate (PEM)', '/etc/mosquitto/certs/server.crt')
    .option('--keyfile <file>', 'broker private key (PEM)', '/etc/mosquitto/certs/server.key')
    .option('--cafile <file>', 'CA certificate (PEM)', '/etc/mosquitto/certs/ca.pem')
    .option('--receivers <n>', 'how many `receive` processes share the intake: svc.force and svc.force-2 .. svc.force-N, each with its own password and environment file in DIR/mqtt', intOption('--receivers', 1, MAX_RECEIVERS), 1)
    .action((opts: { dir: string; prefix: string; port: number; bind?: string; certfile: string; keyfile: string; cafile: string; receivers: number }) => {
      const kit = writeBrokerKit(opts.dir, { prefix: opts.prefix, forceUsers: receiverUsers(opts.receivers), port: opts.port, bind: opts.bind, certfile: path.resolve(opts.certfile), keyfile: path.resolve(opts.keyfile), cafile: path.resolve(opts.cafile) });
      const identities = writeReceiverIdentities(opts.dir, opts.receivers);
      process.stdout.write(`acl: ${kit.acl}\npassword file: ${kit.passwd}\nconfig snippet: ${kit.conf} (include it from mosquitto.conf, e.g. with include_dir; it opens only the TLS listener)\n`);
      if (identities.length) {
        const lines = identities.map((r) => `  ${r.username}: ${r.envFile} (password ${r.passwordFile}${r.created ? ', new' : ', kept'})`);
        process.stdout.write(`receiver 1: svc.force (force.yaml as it is)\n${lines.join('\n')}\nrun each further receiver with the same force.yaml and its environment file (systemd: EnvironmentFile=); send SIGHUP to Mosquitto to load the new users\n`);
      }
      const beyond = receiverIdentities(opts.dir).filter((n) => n > opts.receivers);
      if (beyond.length) {
        process.stdout.write(
          `note: receiver${beyond.length > 1 ? 's' : ''} ${beyond.join(', ')} still ha${beyond.length > 1 ? 've' : 's'} a broker login beyond --receivers ${opts.receivers}: the ACL no longer gives ${beyond.length > 1 ? 'them' : 'it'} the receivers' rights, but a broker session keeps its share of the intake; ` +
            `retire ${beyond.length > 1 ? 'them, from the highest' : 'it'}: hindsight-force retire-receiver --dir ${opts.dir} --receiver ${Math.max(...beyond)}\n`,
        );
      }
    });

}
