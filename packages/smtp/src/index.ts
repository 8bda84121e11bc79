/**
 * @module @mailway/smtp
 *
 * The SMTP, ESMTP and LMTP protocol: replies and enhanced status codes, addresses and
 * parameters, byte-level framing, a hook-driven server and a pipelining client. Prefer the
 * narrow subpath exports (`@mailway/smtp/server`, `@mailway/smtp/client`, …); this entry
 * re-exports only the small shared vocabulary.
 */
export * from './reply/index.js';
