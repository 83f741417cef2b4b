/**
 * The command ops a box carries out (PROTOCOL.md lists the protocol's), shared by the box that verifies
 * them and the force that issues them. The shop's cameras, recording and incidents are the shop's: no op
 * adds or changes cameras, cancels incidents or deletes the buffer, and no op enables matching or live
 * recognition. An op of the protocol a box does not have yet is refused like an unknown one, before
 * anything changes. (`wipe` is the one exception to "the buffer is the shop's": it is for a stolen box,
 * and it ends the box's service, not just its footage.)
 */
export const COMMAND_OPS = ['ping', 'get_status', 'get_config', 'get_nonce', 'get_logs', 'set_config', 'set_key_set', 'resend_incident', 'hold_incident', 'upload_masters', 'revoke_sessions', 'restart', 'wipe'] as const;

export type CommandOp = (typeof COMMAND_OPS)[number];

/** An operator key may look and nudge; changing keys, sessions or the running daemon needs an admin key. */
export const OPERATOR_OPS: readonly CommandOp[] = ['ping', 'get_status', 'get_config', 'get_nonce', 'get_logs', 'resend_incident'];

/**
 * High-risk ops: a replay of one would do lasting harm. While the box's clock is not synchronised it
 * cannot trust a command's `exp`, so these must carry `args.nonce`, a fresh single-use nonce the box gave
 * out (`get_nonce`); with a synchronised clock a nonce is optional but checked when given.
 */
export const HIGH_RISK_OPS: readonly CommandOp[] = ['set_key_set', 'wipe'];
