/**
 * The session half of the client: greeting, EHLO/HELO/LHLO, STARTTLS, AUTH, RSET, NOOP, QUIT.
 * Everything here outlives a transaction (RFC 5321 §4.1.4): TLS, authentication, extensions.
 *
 * Reads: the connection and the resolved options.
 * Emits: a `SessionState` (greeting, extensions, TLS parameters, authenticated user), or an
 * `SmtpClientError` carrying the phase and the reply that refused.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Reply } from '../reply/reply.js';
import { isPositive } from '../reply/reply.js';
import type { Connection, TlsInfo } from './connection.js';
import { type ClientPhase, SmtpClientError, replyError } from './errors.js';
import { type Extensions, noExtensions, parseExtensions } from './extensions.js';
import type { ClientAuth, ResolvedClientOptions } from './options.js';
import { type SaslMechanism, saslMechanisms } from './sasl.js';

/** What the session established. Replaced wholesale at each step, never mutated. */
export interface SessionState {
  readonly greeting: Reply;
  /** The reply to the last EHLO/LHLO, or to HELO after a fallback. */
  readonly hello: Reply | null;
  /** True when the server only accepted HELO (no extensions). */
  readonly heloFallback: boolean;
  readonly extensions: Extensions;
  readonly tls: TlsInfo | null;
  /** The authenticated user, or null. */
  readonly user: string | null;
  /** The name this client sent in EHLO. */
  readonly name: string;
}

/** Write one command line and read its reply; a 421 anywhere closes the session. */
export async function command(conn: Connection, line: string, phase: ClientPhase, timeout: number): Promise<Reply> {
  await conn.write(`${line}\r\n`, phase, timeout);
  return expectOpen(conn, await conn.read(phase, timeout), phase);
}

/** A 421 means the server is closing the channel: fail and close our side too. */
export function expectOpen(conn: Connection, reply: Reply, phase: ClientPhase): Reply {
  if (reply.code !== 421) return reply;
  conn.destroy();
  throw replyError(phase, reply, 'server closing connection');
}

/** Greeting, hello, STARTTLS per policy, then AUTH when credentials are configured. */
export async function openSession(conn: Connection, options: ResolvedClientOptions): Promise<SessionState> {
  // Greeting: a 4xx/5xx greeting refuses the session (RFC 5321 §3.1, 554 or 421).
  const greeting = await conn.read('greeting', options.timeouts.greeting);
  if (greeting.code !== 220) {
    conn.destroy();
    throw replyError('greeting', greeting, 'server refused the session');
  }
  const name = options.name ?? addressLiteral(conn.localAddress);
  let state: SessionState = { greeting, hello: null, heloFallback: false, extensions: noExtensions, tls: conn.tls, user: null, name };
  state = await hello(conn, options, state);

  // STARTTLS.
  if (!conn.tls && options.startTls !== 'never') state = await startTls(conn, options, state);

  // AUTH.
  if (options.auth) state = await authenticate(conn, options, state, options.auth);
  return state;
}

/** EHLO (LHLO in LMTP), falling back to HELO when the server does not know EHLO. */
export async function hello(conn: Connection, options: ResolvedClientOptions, state: SessionState): Promise<SessionState> {
  const timeout = options.timeouts.command;
  const verb = options.lmtp ? 'LHLO' : 'EHLO';
  const reply = await command(conn, `${verb} ${state.name}`, 'ehlo', timeout);
  if (reply.code === 250) return { ...state, hello: reply, heloFallback: false, extensions: parseExtensions(reply) };

  // Fallback: only "command not recognised/implemented"; never on 4xx, never in LMTP.
  if (options.lmtp || (reply.code !== 500 && reply.code !== 502)) throw replyError('ehlo', reply, verb);
  const helo = await command(conn, `HELO ${state.name}`, 'ehlo', timeout);
  if (helo.code !== 250) throw replyError('ehlo', helo, 'HELO');
  return { ...state, hello: helo, heloFallback: true, extensions: noExtensions };
}

/** STARTTLS per policy (RFC 3207): upgrade, then forget everything and say EHLO again. */
export async function startTls(conn: Connection, options: ResolvedClientOptions, state: SessionState): Promise<SessionState> {
  // Offered?
  const required = options.startTls === 'required';
  if (!state.extensions.startTls) {
    if (!required) return state;
    throw new SmtpClientError('STARTTLS required but not offered by the server', { phase: 'starttls', kind: 'policy', temporary: true });
  }

  // Ask.
  const reply = await command(conn, 'STARTTLS', 'starttls', options.timeouts.command);
  if (reply.code !== 220) {
    if (!required && isRefusal(reply)) return state;
    throw replyError('starttls', reply, 'STARTTLS');
  }

  // Switch and start over (RFC 3207 §4.2: the client MUST discard what it knew).
  const tls = await conn.startTls(options.host, options.tls, options.timeouts.command);
  return hello(conn, options, { ...state, tls, hello: null, extensions: noExtensions, user: null });
}

/** AUTH with the first configured mechanism the server offers (RFC 4954). */
export async function authenticate(conn: Connection, options: ResolvedClientOptions, state: SessionState, auth: ClientAuth): Promise<SessionState> {
  // Sanity checks: no credentials in clear unless allowed; something we both speak.
  if (!state.tls && !options.allowPlaintextAuth) {
    throw new SmtpClientError('refusing to send credentials over a connection without TLS', { phase: 'auth', kind: 'policy', temporary: false });
  }
  const mechanism = chooseMechanism(auth, state.extensions.auth);
  if (!mechanism) {
    const offered = state.extensions.auth.length > 0 ? state.extensions.auth.join(' ') : 'none';
    throw new SmtpClientError(`no common AUTH mechanism (server offers: ${offered})`, { phase: 'auth', kind: 'policy', temporary: false });
  }

  // Exchange: initial response, then one response per 334 challenge.
  const timeout = options.timeouts.command;
  const initial = mechanism.initialResponse();
  const first = initial === null ? '' : ` ${initial.length > 0 ? initial.toString('base64') : '='}`;
  let reply = await command(conn, `AUTH ${mechanism.name}${first}`, 'auth', timeout);
  for (let steps = 0; reply.code === 334; steps += 1) {
    let response: Buffer;
    try {
      if (steps >= 16) throw new Error('too many challenges');
      response = mechanism.respond(Buffer.from(reply.lines[0] ?? '', 'base64'));
    } catch (error) {
      // Cancel (RFC 4954 §4): the server answers 501.
      await command(conn, '*', 'auth', timeout);
      throw new SmtpClientError(`AUTH ${mechanism.name} aborted: ${error instanceof Error ? error.message : String(error)}`, { phase: 'auth', kind: 'protocol', temporary: false });
    }
    reply = await command(conn, response.toString('base64'), 'auth', timeout);
  }
  if (reply.code !== 235) throw replyError('auth', reply, `AUTH ${mechanism.name}`);
  return { ...state, user: auth.user };
}

/** RSET: drop the transaction, keep the session. */
export async function reset(conn: Connection, options: ResolvedClientOptions): Promise<Reply> {
  const reply = await command(conn, 'RSET', 'rset', options.timeouts.command);
  if (!isPositive(reply)) throw replyError('rset', reply, 'RSET');
  return reply;
}

/** NOOP: checks the session is alive. */
export async function noop(conn: Connection, options: ResolvedClientOptions): Promise<Reply> {
  const reply = await command(conn, 'NOOP', 'noop', options.timeouts.command);
  if (!isPositive(reply)) throw replyError('noop', reply, 'NOOP');
  return reply;
}

/** A STARTTLS refusal that allows continuing in plaintext: any 4xx/5xx except a closing 421. */
function isRefusal(reply: Reply): boolean {
  return reply.code >= 400 && reply.code !== 421;
}

/** The mechanism to use: the caller's order of preference, filtered by what the server offers. */
function chooseMechanism(auth: ClientAuth, offered: readonly string[]): SaslMechanism | null {
  const wanted = auth.mechanisms ?? (Object.keys(saslMechanisms) as (keyof typeof saslMechanisms)[]);
  for (const choice of wanted) {
    if (typeof choice !== 'string') {
      if (offered.includes(choice.name.toUpperCase())) return choice;
      continue;
    }
    const name = choice.toUpperCase();
    const factory = (saslMechanisms as Record<string, ((c: ClientAuth) => SaslMechanism) | undefined>)[name];
    if (factory && offered.includes(name)) return factory(auth);
  }
  return null;
}

/** `[192.0.2.1]` or `[IPv6:2001:db8::1]` for the EHLO argument when no name is configured. */
export function addressLiteral(address: string | undefined): string {
  if (!address) return '[127.0.0.1]';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return `[${mapped[1]}]`;
  if (isIPv4(address)) return `[${address}]`;
  if (isIPv6(address)) return `[IPv6:${address}]`;
  return '[127.0.0.1]';
}
