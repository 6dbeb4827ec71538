// The MQTT 5 reason codes edgegate's own decisions answer with (MQTT 5.0 section
// 2.4), and how the auth pipeline's reasons (src/auth/reasons.ts) map onto them.
// MQTT 3.1.1 clients keep their return codes (authHooks.ts, connectHooks.ts).

export const ReasonCode = {
  Success: 0x00,
  UnspecifiedError: 0x80,
  ProtocolError: 0x82,
  BadUserNameOrPassword: 0x86,
  NotAuthorized: 0x87,
  ServerUnavailable: 0x88,
  ServerBusy: 0x89,
  BadAuthenticationMethod: 0x8c,
  SessionTakenOver: 0x8e,
  PacketTooLarge: 0x95,
  QuotaExceeded: 0x97,
  AdministrativeAction: 0x98,
  MaximumConnectTime: 0xa0,
} as const;

/**
 * The CONNACK reason code of a refused authentication: a ban is a quota (0x97, as
 * EMQX answers it), an internal failure says nothing of the credentials (0x88),
 * every other refusal is about the token (0x86).
 */
export function connackReasonFor(reason: string): number {
  if (reason === 'RATE_LIMITED') return ReasonCode.QuotaExceeded;
  if (reason === 'AUTH_UNAVAILABLE') return ReasonCode.ServerUnavailable;
  return ReasonCode.BadUserNameOrPassword;
}

/**
 * The DISCONNECT reason code when the gateway ends a session (SessionRegistry's
 * reasons): an expired token reached its Maximum connect time (0xA0), a revoked
 * one is no longer authorized (0x87), an operator's disconnect is an
 * Administrative action (0x98).
 */
export function disconnectReasonFor(reason: string): number {
  if (reason === 'JWT_EXPIRED') return ReasonCode.MaximumConnectTime;
  if (reason === 'JWT_REVOKED') return ReasonCode.NotAuthorized;
  if (reason === 'ADMIN_DISCONNECT') return ReasonCode.AdministrativeAction;
  return ReasonCode.NotAuthorized;
}
