import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../../daemon/src/audit/log.js';
import { applyRestoreMarker, readEpoch, RESTORE_MARKER, type RestoreMarker } from '../../../daemon/src/audit/epoch.js';
import { generateKeyPair, SIG_CONTEXT, signWith } from '../../../daemon/src/crypto/keys.js';
import { signKeySet, type KeySetBody } from '../../../daemon/src/crypto/keyset.js';
import { openDatabase } from '../../../daemon/src/db/db.js';
import { CommandVerifier } from '../../../daemon/src/fleet/command-verify.js';
import { silentLogger } from '../../../daemon/src/log/logger.js';
import { DeviceTopics } from '../../../daemon/src/protocol/topics.js';
import { Outbox } from '../../../daemon/src/uplink/outbox.js';
import { canonicalBytes } from '../../../daemon/src/util/canonical.js';
import { ManualClock } from '../../../daemon/src/util/clock.js';
import { tempDir } from '../../helpers/paths.js';

const NOW = Date.UTC(2026, 11, 1);

describe('a new epoch after a restore', () => {
  it('starts at the next daemon start: audit row, envelope numbers above the restore time, older commands refused', () => {
    const dir = tempDir('hs-epoch-');
    const db = openDatabase(path.join(dir, 'hindsight.db'));
    const clock = new ManualClock(NOW);
    const audit = new AuditLog(db, clock);
    audit.append({ actor: { type: 'system', id: 'test' }, action: 'system.started' });
    const marker: RestoreMarker = { backup_created_at: NOW - 3_600_000, backup_audit: { count: 1, head_hash: audit.head().head_hash }, previous_epoch: 2, restored_at: NOW - 60_000, restored_by: 'root', from_file: 'box.hsbackup' };
    writeFileSync(path.join(dir, RESTORE_MARKER), JSON.stringify(marker));
    const apply = () => applyRestoreMarker({ db, audit, stateDir: dir, now: () => clock.now(), log: silentLogger });

    const e = apply()!;
    expect(e).toMatchObject({ n: 3, base: { count: 1 }, audit_seq: 2 });
    expect(readEpoch(db)).toEqual(e);
    expect(existsSync(path.join(dir, RESTORE_MARKER))).toBe(false);
    expect(apply()).toBeUndefined(); // applied once
    expect(audit.find({ action: 'system.restored' })[0]!.detail).toMatchObject({ epoch: 3, backup_rows: 1, from_file: 'box.hsbackup' });
    expect(audit.verify().ok).toBe(true);

    const outbox = new Outbox(db, audit, clock, { maxBytes: 1 << 30, maxAgeMs: 86_400_000 });
    expect(outbox.reserveMsgSeq()).toBe(NOW + 1);

    // a command issued before the restore (a fresh seq: the old copy never saw it) is refused
    const root = generateKeyPair('ed25519');
    const admin = generateKeyPair('ed25519');
    const body: KeySetBody = { v: 1, schema: 'hindsight-keyset/1', seq: 1, issued_at: NOW, root_kid: root.kid, recipients: [], signers: [{ kid: admin.kid, pk: admin.pk, role: 'command-admin', not_before: NOW - 86_400_000, not_after: NOW + 86_400_000 }], revoked: [] };
    const ks = signKeySet(body, root);
    const topics = new DeviceTopics('hindsight/v1', 'box-1');
    const verifier = new CommandVerifier(db, audit, () => ks, topics, clock);
    const send = (iat: number, seq: number) => {
      const cmd = { v: 1, cmd_id: `c-${seq}`, device_id: 'box-1', issuer_kid: admin.kid, op: 'ping', args: {}, seq, iat, exp: iat + 120_000 };
      const r = verifier.handle(Buffer.from(JSON.stringify({ kid: admin.kid, cmd, sig: signWith(admin, SIG_CONTEXT.command, canonicalBytes(cmd)) })), topics.cmdResult(), () => true);
      return r.ok ? 'ok' : `${r.error.reason}: ${r.error.message}`;
    };
    expect(send(NOW - 30_000, NOW - 30_000)).toMatch(/^old_seq: issued before this box was restored/);
    expect(send(NOW + 1_000, NOW + 1_000)).toBe('ok');
  });
});
