/**
 * `mailway queue …`: what is still queued and why (reads BullMQ through @mailway/queue/admin).
 *
 *   mailway queue list [--state queued|active|deferred|held|failed] [--domain D] [--sender S] [--recipient R]
 *                      [--older-than 2h] [--younger-than 10m] [--json]
 *   mailway queue show <queue id> [--body] [--json]
 *   mailway queue summary [--json]
 *   mailway queue retry <queue id> | --all [--domain D] [--json]
 *   mailway queue flush [--json]
 *   mailway queue hold|release <queue id>… | --all [--domain D] [--json]
 *   mailway queue delete <queue id>… | --all [--domain D] --yes [--json]
 *   mailway queue bounce <queue id>… | --all [--domain D] --yes [--json]
 *
 * Human output is for reading; `--json` prints the admin API's own objects.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { BounceContext, BounceResult } from '@mailway/admin';
import { loadConfig, parseDuration } from '@mailway/config';
import { hostnameSetting, setting, spoolSettings, traceRetentionSetting } from '@mailway/config/schema';
import { type ActionResult, type MessageDetail, type QueueAdmin, type QueueSummary, type QueuedMessage, type QueuedRecipient, type RecipientState, type RetryResult, ageBuckets, createQueueAdmin, recipientStates } from '@mailway/queue/admin';
import type { AttemptRecord } from '@mailway/queue/jobs';
import { bullPrefix, createMailQueue } from '@mailway/queue/queues';
import { createTraceLog } from '@mailway/queue/trace';
import { type ContentRef, type Spool, SpoolNotFoundError, createFsSpool, createRedisSpool, readContent } from '@mailway/queue/spool';
import { readHeaderBlock } from '@mailway/smtp/message';
import type { Redis } from 'ioredis';
import { withRedis } from '../connection.js';

/** Usage of the queue commands. */
export const queueUsage = `  mailway queue list [--state queued|active|deferred|held|failed] [--domain <domain>] [--sender <address>]
                     [--recipient <address>] [--older-than <duration>] [--younger-than <duration>] [--json]
  mailway queue show <queue id> [--body] [--json]
  mailway queue summary [--json]
  mailway queue retry <queue id> | --all [--domain <domain>] [--json]
  mailway queue flush [--json]
  mailway queue hold <queue id>… | --all [--domain <domain>] [--json]
  mailway queue release <queue id>… | --all [--domain <domain>] [--json]
  mailway queue delete <queue id>… | --all [--domain <domain>] --yes [--json]
  mailway queue bounce <queue id>… | --all [--domain <domain>] --yes [--json]`;

class UsageError extends Error {}

type Print = (line: string) => void;
/** What a verb works with: the queues, and for those that change content, the spool and the intake. */
interface Tools {
  readonly admin: QueueAdmin;
  readonly bounce: () => BounceContext;
  /** The spool the agents write to (read-only use here unless the verb changes content). */
  readonly spool: () => Spool;
}
type Action = (admin: QueueAdmin, args: readonly string[], print: Print, tools: Tools) => Promise<number>;

const actions = {
  list: async (admin, args, print) => {
    const { values } = parseArgs({
      args: [...args],
      options: { state: { type: 'string' }, domain: { type: 'string' }, sender: { type: 'string' }, recipient: { type: 'string' }, 'older-than': { type: 'string' }, 'younger-than': { type: 'string' }, json: { type: 'boolean', default: false } },
    });
    const state = values.state;
    if (state !== undefined && !isState(state)) throw new UsageError(`--state must be one of ${recipientStates.join(', ')}`);
    const olderThanMs = durationFlag('--older-than', values['older-than']);
    const youngerThanMs = durationFlag('--younger-than', values['younger-than']);
    const messages = await admin.list({
      ...(state === undefined ? {} : { state }),
      ...(values.domain === undefined ? {} : { domain: values.domain }),
      ...(values.sender === undefined ? {} : { sender: values.sender }),
      ...(values.recipient === undefined ? {} : { recipient: values.recipient }),
      ...(olderThanMs === undefined ? {} : { olderThanMs }),
      ...(youngerThanMs === undefined ? {} : { youngerThanMs }),
    });
    if (values.json) print(JSON.stringify(messages, null, 2));
    else formatList(messages).forEach(print);
    return 0;
  },
  show: async (admin, args, print, tools) => {
    const { values, positionals } = parseArgs({ args: [...args], allowPositionals: true, options: { json: { type: 'boolean', default: false }, body: { type: 'boolean', default: false } } });
    const queueId = need(positionals[0], 'queue id');
    const detail = await admin.show(queueId);
    if (detail === null) {
      process.stderr.write(`mailway queue show: no job of message ${queueId} is queued or kept\n`);
      return 1;
    }
    // The header (or with --body the whole message) as spooled or carried by its job; gone once every recipient is done.
    const { carried, ...shown } = detail;
    const content = await messageText(tools.spool(), { spoolId: detail.spoolId, content: carried ?? undefined }, values.body);
    if (values.json) print(JSON.stringify({ ...shown, ...(content === null ? {} : values.body ? { message: content } : { header: content }) }, null, 2));
    else {
      formatDetail(detail).forEach(print);
      print('');
      if (content === null) print('(content no longer spooled)');
      else print(`${values.body ? 'message' : 'header'}:\n${content.replace(/\r\n/g, '\n').trimEnd()}`);
    }
    return 0;
  },
  summary: async (admin, args, print) => {
    const { values } = parseArgs({ args: [...args], options: { json: { type: 'boolean', default: false } } });
    const summary = await admin.summary();
    if (values.json) print(JSON.stringify(summary, null, 2));
    else formatSummary(summary).forEach(print);
    return 0;
  },
  retry: async (admin, args, print) => {
    const { values, positionals } = parseArgs({ args: [...args], allowPositionals: true, options: { all: { type: 'boolean', default: false }, domain: { type: 'string' }, json: { type: 'boolean', default: false } } });
    if (values.all === (positionals[0] !== undefined)) throw new UsageError('retry needs a queue id or --all');
    if (values.domain !== undefined && !values.all) throw new UsageError('--domain goes with --all');
    const result: RetryResult = values.all ? await admin.retryAll(values.domain === undefined ? {} : { domain: values.domain }) : await admin.retry(positionals[0]!);
    if (values.json) print(JSON.stringify(result, null, 2));
    else for (const p of result.promoted) print(`${p.queueId}  ${p.domain}  runs now (job ${p.jobId})`);
    if (result.promoted.length > 0) return 0;
    process.stderr.write('mailway queue retry: no deferred outbound job matched\n');
    return 1;
  },
  flush: async (admin, args, print) => {
    const { values } = parseArgs({ args: [...args], options: { json: { type: 'boolean', default: false } } });
    const result = await admin.retryAll();
    if (values.json) print(JSON.stringify(result, null, 2));
    else for (const p of result.promoted) print(`${p.queueId}  ${p.domain}  runs now (job ${p.jobId})`);
    if (!values.json && result.promoted.length === 0) print('no deferred outbound job');
    return 0;
  },
  hold: async (admin, args, print) => perMessage('hold', await selected('hold', admin, args), print, (id) => admin.hold(id), { done: 'held', none: 'no queued or deferred outbound job to hold' }, args.includes('--all')),
  release: async (admin, args, print) => perMessage('release', await selected('release', admin, args), print, (id) => admin.release(id), { done: 'released, runs now', none: 'no held outbound job' }, args.includes('--all')),
  delete: async (admin, args, print) => {
    const { values, positionals } = parseArgs({ args: [...args], allowPositionals: true, options: { all: { type: 'boolean', default: false }, domain: { type: 'string' }, yes: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } } });
    if (values.all === (positionals.length > 0)) throw new UsageError('delete needs queue ids or --all');
    if (values.all && !values.yes) throw new UsageError(`--all deletes every queued message${values.domain === undefined ? '' : ` to ${values.domain}`} and its content for good: add --yes to confirm`);
    const ids = values.all ? await admin.messageIds(values.domain === undefined ? {} : { domain: values.domain }) : positionals;
    const filter = values.domain === undefined ? {} : { domain: values.domain };
    return perMessage('delete', [...ids, ...(values.json ? ['--json'] : [])], print, (id) => admin.remove(id, filter), { done: 'deleted', none: 'no job of this message' }, values.all);
  },
  bounce: async (admin, args, print, tools) => {
    const { values, positionals } = parseArgs({ args: [...args], allowPositionals: true, options: { all: { type: 'boolean', default: false }, domain: { type: 'string' }, yes: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } } });
    if (values.all === (positionals.length > 0)) throw new UsageError('bounce needs queue ids or --all');
    if (values.domain !== undefined && !values.all) throw new UsageError('--domain goes with --all');
    if (values.all && !values.yes) throw new UsageError(`--all returns every queued message${values.domain === undefined ? '' : ` with a recipient at ${values.domain}`} to its sender: add --yes to confirm`);
    const ids = values.all ? await admin.messageIds(values.domain === undefined ? {} : { domain: values.domain }) : positionals;
    const context = tools.bounce();
    // Loaded for this verb only: it writes notices, which the other verbs never need.
    const { bounceMessage } = await import('@mailway/admin');
    const results: (BounceResult & { queueId: string })[] = [];
    for (const queueId of ids) results.push({ queueId, ...(await bounceMessage(admin, queueId, context)) });
    if (values.json) print(JSON.stringify(results, null, 2));
    else {
      for (const r of results) formatBounce(r).forEach(print);
      if (values.all && results.length === 0) print('no queued message matched');
    }
    return results.every((r) => r.done.length > 0) ? 0 : 1;
  },
} satisfies Record<string, Action>;

/** One line per message bounced: to whom the notice went, for which recipients; or why nothing was done. */
export function formatBounce(r: BounceResult & { queueId: string }): string[] {
  const running = r.active.length > 0 ? `; running now, left alone: ${r.active.map((j) => `${j.queue}${j.domain === null ? '' : ` ${j.domain}`}`).join(', ')}` : '';
  if (r.done.length === 0) return [r.active.length > 0 ? `${r.queueId}  not bounced: running now, try again once it is done` : `${r.queueId}  no unfinished job of this message`];
  const lines = [];
  if (r.notice !== null) lines.push(`${r.queueId}  returned to sender (notice ${r.notice}): ${r.returned.join(', ')}${running}`);
  if (r.dropped.length > 0) lines.push(`${r.queueId}  deleted without notice (null sender or NOTIFY): ${r.dropped.join(', ')}${r.notice === null ? running : ''}`);
  if (lines.length === 0) lines.push(`${r.queueId}  deleted${running}`);
  return lines;
}

/**
 * Act on each message named in `args` and confirm it, one line per message: what was done to
 * which jobs, or why nothing was. Exit 1 when some message had nothing to act on, unless
 * `anyCount` (an `--all` that found nothing is not an error).
 */
/** The arguments for perMessage: the ids given, or with `--all [--domain D]` every queued message (to D). */
async function selected(verb: string, admin: QueueAdmin, args: readonly string[]): Promise<string[]> {
  const { values, positionals } = parseArgs({ args: [...args], allowPositionals: true, options: { all: { type: 'boolean', default: false }, domain: { type: 'string' }, json: { type: 'boolean', default: false } } });
  if (values.all === (positionals.length > 0)) throw new UsageError(`${verb} needs queue ids or --all`);
  if (values.domain !== undefined && !values.all) throw new UsageError('--domain goes with --all');
  const ids = values.all ? await admin.messageIds(values.domain === undefined ? {} : { domain: values.domain }) : positionals;
  return [...ids, ...(values.json ? ['--json'] : [])];
}

async function perMessage(verb: string, args: readonly string[], print: Print, act: (queueId: string) => Promise<ActionResult>, words: { done: string; none: string }, anyCount = false): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...args], allowPositionals: true, options: { json: { type: 'boolean', default: false } } });
  if (positionals.length === 0 && !anyCount) throw new UsageError(`${verb} needs queue ids`);
  const results: (ActionResult & { queueId: string })[] = [];
  for (const queueId of positionals) results.push({ queueId, ...(await act(queueId)) });
  if (values.json) print(JSON.stringify(results, null, 2));
  else {
    for (const r of results) {
      const jobs = (list: ActionResult['done']) => list.map((j) => `${j.queue}${j.domain === null ? '' : ` ${j.domain}`}`).join(', ');
      if (r.done.length > 0) print(`${r.queueId}  ${words.done} (${jobs(r.done)})${r.active.length > 0 ? `; running now, left alone: ${jobs(r.active)}` : ''}`);
      else if (r.active.length > 0) print(`${r.queueId}  not ${verb === 'delete' ? 'deleted' : words.done}: running now (${jobs(r.active)}), try again once it is done`);
      else print(`${r.queueId}  ${words.none}`);
    }
    if (anyCount && results.length === 0) print('no queued message matched');
  }
  return results.every((r) => r.done.length > 0) ? 0 : 1;
}

/** How notices are written: this host's name and how much of the original goes back (as the relay's outbound worker does). */
const noticeSettings = z.object({ hostname: hostnameSetting, returnLimit: setting.bytes('RELAY_BOUNCE_RETURN_LIMIT', 100 * 1024) });

/** The spool the agents are configured with (MAILWAY_SPOOL, MAILWAY_SPOOL_DIR). */
function configuredSpool(redis: Redis, prefix: string): Spool {
  const spool = loadConfig(spoolSettings);
  return spool.backend === 'fs' ? createFsSpool({ directory: spool.directory }) : createRedisSpool(redis, { prefix });
}

/** A duration flag in ms (`2h`, `30m`), or undefined when not given. */
function durationFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined) throw new UsageError(`${name} must be a duration (30m, 2h, 1d), not ${JSON.stringify(value)}`);
  return ms;
}

/** The message's header block, or with `whole` all of it, as text (spooled, or carried by its job); null once it is gone. */
async function messageText(spool: Spool, ref: ContentRef, whole: boolean): Promise<string | null> {
  try {
    if (whole) {
      const chunks: Buffer[] = [];
      for await (const chunk of readContent(spool, ref)) chunks.push(chunk);
      return Buffer.concat(chunks).toString('utf8');
    }
    const { header, rest } = await readHeaderBlock(readContent(spool, ref), { maxHeaderBytes: 1024 * 1024 });
    // Started, then left: that hands the spool's reader back (a file spool closes its file).
    const unread = rest[Symbol.asyncIterator]();
    await unread.next();
    await unread.return?.();
    return header.toString('utf8');
  } catch (error) {
    if (error instanceof SpoolNotFoundError) return null;
    throw error;
  }
}

/** Run `mailway queue <verb> …`. */
export async function runQueueCommand(args: readonly string[]): Promise<number> {
  const [verb, ...rest] = args;
  const action = verb !== undefined && Object.hasOwn(actions, verb) ? actions[verb as keyof typeof actions] : undefined;
  if (action === undefined) {
    process.stderr.write(`usage:\n${queueUsage}\n`);
    return 64;
  }
  try {
    return await withRedis(async (redis, prefix) => {
      const changesContent = verb === 'delete' || verb === 'bounce';
      const spool = changesContent ? configuredSpool(redis, prefix) : undefined;
      // Every action is written into the messages' traces.
      const trace = createTraceLog(redis, { prefix, retentionMs: loadConfig(z.object({ retention: traceRetentionSetting })).retention });
      const admin = createQueueAdmin(redis, { prefix, trace, ...(spool === undefined ? {} : { spool }) });
      const transfer = spool === undefined ? null : createMailQueue('transfer', redis, { prefix: bullPrefix(prefix) });
      const bounce = (): BounceContext => {
        if (spool === undefined || transfer === null) throw new Error('bouncing needs the spool');
        return { ...loadConfig(noticeSettings), spool, targets: { spool, transfer, trace } };
      };
      try {
        return await action(admin, rest, (line) => process.stdout.write(`${line}\n`), { admin, bounce, spool: () => spool ?? configuredSpool(redis, prefix) });
      } finally {
        await trace.flush();
        await admin.close();
        await transfer?.close();
      }
    });
  } catch (error) {
    process.stderr.write(`mailway queue ${verb}: ${error instanceof Error ? error.message : String(error)}\n`);
    return error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true ? 64 : 1;
  }
}

/** One block per message (as Postfix's mailq): id, age, size, sender, then a line per recipient. */
export function formatList(messages: readonly QueuedMessage[]): string[] {
  if (messages.length === 0) return ['Mail queue is empty'];
  const lines = [`${'QUEUE ID'.padEnd(20)}  ${'AGE'.padStart(7)}  ${'SIZE'.padStart(9)}  SENDER`];
  let recipients = 0;
  for (const m of messages) {
    lines.push(`${m.queueId.padEnd(20)}  ${age(m.ageMs).padStart(7)}  ${String(m.size).padStart(9)}  ${sender(m.sender)}`);
    for (const r of m.recipients) lines.push(`    ${recipientLine(r)}`);
    recipients += m.recipients.length;
  }
  lines.push(`-- ${messages.length} message${messages.length === 1 ? '' : 's'}, ${recipients} recipient${recipients === 1 ? '' : 's'}`);
  return lines;
}

/** The envelope, the jobs in each queue, and each outbound recipient's latest attempt. */
export function formatDetail(d: MessageDetail): string[] {
  const lines = [`queue id:    ${d.queueId}`, `arrived:     ${d.arrivedAt} (${age(d.ageMs)} ago)`, `size:        ${d.size} octets`, `message-id:  ${d.messageId ?? '(none)'}`];
  if (d.envelope !== null) {
    lines.push(`sender:      ${sender(d.envelope.from)}`, `recipients:  ${d.envelope.recipients.map((r) => r.address).join(', ')}`);
    const params = [d.envelope.body && `BODY=${d.envelope.body}`, d.envelope.smtputf8 && 'SMTPUTF8', d.envelope.ret && `RET=${d.envelope.ret}`, d.envelope.envid && `ENVID=${d.envelope.envid}`, d.envelope.requireTls && 'REQUIRETLS'].filter(Boolean);
    if (params.length > 0) lines.push(`parameters:  ${params.join(' ')}`);
  }
  if (d.origin !== null) {
    const o = d.origin;
    lines.push(`origin:      ${o.agent}${o.client ? ` from [${o.client.address}]${o.client.helo ? ` (${o.client.helo})` : ''}` : ''}${o.user ? `, user ${o.user}` : ''}${o.tls?.protocol ? `, ${o.tls.protocol}` : ''}`);
  }
  lines.push('', 'jobs:');
  for (const j of d.jobs) {
    const when = j.nextAttemptAt === null ? '' : ` until ${j.nextAttemptAt}`;
    lines.push(`  ${j.queue.padEnd(8)}  ${j.jobId}  ${j.state ?? j.bullState}${when}${j.domain === null ? '' : `  domain ${j.domain}`}${j.progress ? `  attempts ${j.progress.attempts}` : ''}`);
    if (j.recipients.length > 0 && j.state !== null) lines.push(`      pending: ${j.recipients.join(', ')}`);
    if (j.error !== null) lines.push(`      error: ${j.error}`);
    for (const a of j.progress?.last ?? []) lines.push(`      ${attemptLine(a)}`);
  }
  return lines;
}

/** Counts by state, then deferred outbound messages by domain and age (Postfix's qshape). */
export function formatSummary(s: QueueSummary): string[] {
  const lines = [`messages  ${s.messages}`, ...recipientStates.map((state) => `${state.padEnd(8)}  ${s.recipients[state]}`), ''];
  if (s.deferredByDomain.length === 0) return [...lines, 'no deferred outbound mail'];
  const labels = ageBuckets.map((b) => b.label);
  const width = Math.max(6, ...s.deferredByDomain.map((r) => r.domain.length));
  const row = (name: string, total: number, counts: readonly number[]) => `${name.padEnd(width)}  ${String(total).padStart(5)}${counts.map((c, i) => `  ${String(c).padStart(labels[i]!.length)}`).join('')}`;
  lines.push('deferred outbound messages by domain and age:', `${'DOMAIN'.padEnd(width)}  ${'TOTAL'.padStart(5)}${labels.map((l) => `  ${l}`).join('')}`);
  const totals = labels.map((l) => s.deferredByDomain.reduce((sum, r) => sum + r.buckets[l], 0));
  lines.push(row('TOTAL', totals.reduce((a, b) => a + b, 0), totals));
  for (const r of s.deferredByDomain) lines.push(row(r.domain, r.total, labels.map((l) => r.buckets[l])));
  return lines;
}

function recipientLine(r: QueuedRecipient): string {
  const when = r.state === 'deferred' && r.nextAttemptAt !== null ? ` until ${r.nextAttemptAt}` : '';
  const why = r.lastAttempt !== null ? `: ${r.lastAttempt.remoteMta ?? 'no host'}: ${r.lastAttempt.diagnostic}` : r.error !== null ? `: ${r.error}` : '';
  return `${r.address}  ${r.state}${when} (${r.queue})${why}`;
}

function attemptLine(a: AttemptRecord): string {
  return `${a.address}  ${a.state} ${a.status} at ${a.at} via ${a.remoteMta ?? '(no host)'}${a.tls === null ? ', no TLS' : `, ${a.tls}`}: ${a.remoteReply ? 'remote said' : 'Mailway says'} ${a.diagnostic}`;
}

function sender(address: string): string {
  return address === '' ? '<>' : address;
}

/** Compact age: 42s, 12m, 3h05m, 2d04h. */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

function isState(value: string): value is RecipientState {
  return (recipientStates as readonly string[]).includes(value);
}

function need(value: string | undefined, what: string): string {
  if (value === undefined || value === '') throw new UsageError(`missing <${what}>`);
  return value;
}
