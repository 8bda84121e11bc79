/**
 * @module @mailway/smtp/server
 *
 * A hook-driven SMTP/LMTP server: `createServer({ hooks, limits, tls, auth, lmtp })`.
 * Hooks answer with verdicts (`accept`, `reject`, `defer`, `disconnect`); the session alone
 * writes replies.
 */
export { createServer, type SmtpServer } from './server.js';
export type { ServerOptions, ServerLimits, ServerTimeouts, ServerFeatures, AuthOptions } from './options.js';
export type { ServerHooks, MessageBody } from './hooks.js';
export type { AdmissionOptions, Refusal, RefusalKind } from './admission/gate.js';
export type { Session, Transaction, Recipient, Credentials, TlsInfo, Endpoint } from './types.js';
export { type ProtocolViolation, type ViolationKind, defaultForbiddenCommands } from './violations.js';
export { type Availability, withAvailability } from './availability.js';
export { type Verdict, type HookResult, accept, reject, defer, disconnect } from './verdict.js';
export { type CommandExtension, type ExtensionResult, type Handover, type TakeSocket, handover } from './extensions.js';
export type { SaslMechanism, SaslExchange, SaslStep } from './sasl/mechanism.js';
export { plainMechanism } from './sasl/plain.js';
export { loginMechanism } from './sasl/login.js';
