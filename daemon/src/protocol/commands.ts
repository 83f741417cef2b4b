/**
 * The command ops a box carries out (PROTOCOL.md lists the protocol's), shared by the box that verifies
 * them and the force that issues them. The shop's cameras, recording and incidents are the shop's: no op
 * adds or changes cameras, cancels incidents or deletes the buffer, and no op enables matching or live
 * recognition. An op of the protocol a box does not have yet is refused like an unknown one, before
 * anything changes.
 */
export const COMMAND_OPS = ['ping', 'get_status', 'get_config', 'set_key_set', 'resend_incident', 'revoke_sessions', 'restart'] as const;

export type CommandOp = (typeof COMMAND_OPS)[number];

/** An operator key may look and nudge; changing keys, sessions or the running daemon needs an admin key. */
export const OPERATOR_OPS: readonly CommandOp[] = ['ping', 'get_status', 'get_config', 'resend_incident'];
