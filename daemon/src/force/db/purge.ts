import type { Db } from '../../db/db.js';

/**
 * After personal data is deleted: the force database runs with `secure_delete` (a deleted row's bytes are
 * overwritten in its page), but the write-ahead log still holds the pages as they were until a
 * checkpoint; a TRUNCATE checkpoint copies the cleaned pages back and empties the log, so no copy of a
 * deleted embedding stays in the database file or its WAL. Another process reading an older snapshot can
 * hold it back (false is returned); it runs again after every deletion and every hour in the receiver.
 */
export function purgeDeleted(db: Db): boolean {
  const [r] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
  return r?.busy === 0;
}
