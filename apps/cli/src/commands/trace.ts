/**
 * `mailway trace <queue id> [--json]`: a message's whole path, in the order Redis took the
 * events of every agent — accepted (by which agent, from which client, TLS, user), routed,
 * each delivery attempt with the host that answered and its reply, delivered (the mailbox
 * file or the next hop's reply), deferred, failed, expanded, notices sent about it, and what
 * operators did to it. Reads the message's trace record (@mailway/queue/trace), which outlives
 * the message by MAILWAY_TRACE_RETENTION.
 */
import { parseArgs } from 'node:util';
import { queueIdPattern } from '@mailway/queue/jobs';
import { type TraceEntry, type TraceEvent, createTraceLog } from '@mailway/queue/trace';
import { withRedis } from '../connection.js';

export const traceUsage = '  mailway trace <queue id> [--json]';

/** Run `mailway trace …`. */
export async function runTraceCommand(args: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], allowPositionals: true, options: { json: { type: 'boolean', default: false } } });
  } catch (error) {
    process.stderr.write(`mailway trace: ${error instanceof Error ? error.message : String(error)}\nusage:\n${traceUsage}\n`);
    return 64;
  }
  const queueId = parsed.positionals[0];
  if (queueId === undefined || parsed.positionals.length > 1 || !queueIdPattern.test(queueId)) {
    process.stderr.write(`usage:\n${traceUsage}\n`);
    return 64;
  }
  const entries = await withRedis((redis, prefix) => createTraceLog(redis, { prefix, retentionMs: 1 }).read(queueId));
  if (entries.length === 0) {
    process.stderr.write(`mailway trace: no trace of message ${queueId} (unknown, or older than MAILWAY_TRACE_RETENTION)\n`);
    return 1;
  }
  const out = parsed.values.json ? [JSON.stringify(entries.map((e) => ({ ...e.event, storedAt: new Date(e.storedAt).toISOString() })), null, 2)] : formatTrace(entries);
  for (const line of out) process.stdout.write(`${line}\n`);
  return 0;
}

/** One line per event: time (Redis's clock), agent, event, what happened. */
export function formatTrace(entries: readonly TraceEntry[]): string[] {
  return entries.map(({ storedAt, event }) => `${new Date(storedAt).toISOString()}  ${event.agent.padEnd(10)}  ${event.type.padEnd(9)}  ${describeEvent(event)}`);
}

/** The event's facts in words. */
export function describeEvent(e: TraceEvent): string {
  const to = e.recipient ?? '';
  const via = (remote: string | null | undefined) => (remote ? ` via ${remote}${e.tls ? ` (${e.tls})` : e.tls === null ? ' (no TLS)' : ''}` : '');
  const attempt = e.attempt === undefined ? '' : `, attempt ${e.attempt}`;
  switch (e.type) {
    case 'accepted': {
      const client = e.client ? `client [${e.client}]${e.helo ? ` (${e.helo})` : ''}, ${e.tls ?? 'no TLS'}${e.user ? `, user ${e.user}` : ''}` : 'written by Mailway';
      const about = e.about === undefined ? '' : `; ${e.kind ?? ''} notice about ${e.about}`;
      return `from <${e.from ?? ''}> to ${(e.recipients ?? []).join(', ')}; ${client}${e.size === undefined ? '' : `; ${e.size} octets`}${about}`;
    }
    case 'routed':
      return `${to} → ${e.route === 'local' ? 'local delivery' : `outbound to ${e.route ?? '?'}`}`;
    case 'delivered':
      return e.file !== undefined ? `${to} → ${e.file}` : `${to}${via(e.remote)}${attempt}: ${e.reply ?? ''}`;
    case 'deferred':
    case 'failed':
      return `${to}${via(e.remote)}${attempt}: ${e.reply ?? ''}`;
    case 'expanded':
      return `${to} → ${(e.targets ?? []).join(', ')}`;
    case 'notice':
      return `${e.kind ?? ''} notice ${e.notice ?? ''} to the sender for ${(e.recipients ?? []).join(', ')}`;
    case 'operator':
      return `${e.action ?? ''}${e.route ? ` (${e.route})` : ''}: ${(e.recipients ?? []).join(', ')}`;
  }
}
