/**
 * The service extensions in force for a session, as the parameter parsers need them: what
 * EHLO offered, and nothing at all after HELO.
 */
import type { Extensions } from '../../address/index.js';
import type { ServerConfig } from '../config.js';
import type { SessionState } from '../state.js';

export const noExtensions: Extensions = { size: null, eightBitMime: false, binaryMime: false, smtputf8: false, dsn: false, auth: false, requireTls: false };

/** The extensions in force for `session` as it stands (after its EHLO/HELO/LHLO is recorded). */
export function sessionExtensions(session: Readonly<SessionState>, config: ServerConfig): Extensions {
  if (!session.extended) return noExtensions;
  const { features, limits } = config;
  return {
    size: limits.messageSize,
    eightBitMime: features.eightBitMime,
    binaryMime: features.chunking && features.binaryMime,
    smtputf8: features.smtputf8,
    dsn: features.dsn,
    auth: config.auth.enabled,
    requireTls: features.requireTls && session.tls !== null,
  };
}
