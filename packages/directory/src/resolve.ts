/**
 * Recipient routing: what the relay asks at RCPT time and the delivery agent asks before
 * writing a mailbox. Reads the directory in one script call (one round trip, one consistent
 * state); emits a Resolution, which for a user carries its quota.
 *
 * Order: not a local domain → remote; exact user; exact alias; with the sub-address tag
 * stripped (`user+tag` → `user`), user (the tag names the folder) or alias; the domain's
 * catch-all; else unknown. Alias targets come back as stored: expanding them further is
 * the caller's choice (each target is resolved in turn).
 */
import { normalizeAddress, splitSubaddress } from './address.js';
import type { DirectoryContext } from './context.js';
import { parseList, parseQuota, callScript } from './store.js';

/** Where mail for one recipient address goes. */
export type Resolution =
  | { readonly kind: 'user'; readonly user: string; readonly folder: string | null; readonly quotaBytes: number | null }
  | { readonly kind: 'alias'; readonly targets: readonly string[] }
  | { readonly kind: 'unknown' }
  | { readonly kind: 'remote' };

// A tag becomes a folder only when it is a harmless folder name; otherwise the mail goes to
// the inbox. The tag comes from the sender, so it must never reach a path unchecked.
const folderName = /^[a-z0-9_-][a-z0-9._-]{0,63}$/;

/** Route the recipient `text` (DirectoryError when it is not an address). */
export async function resolveRecipient(ctx: DirectoryContext, text: string): Promise<Resolution> {
  const address = normalizeAddress(text);
  const domain = address.slice(address.lastIndexOf('@') + 1);
  const sub = splitSubaddress(address, ctx.separator);
  const base = sub?.base ?? address;

  // Every lookup the decision may need, in one round trip.
  const { keys } = ctx;
  const reply = (await callScript(ctx.redis, 'resolve', resolveLua, [keys.domains, keys.user(address), keys.alias(address), keys.user(base), keys.alias(base), keys.catchAll], [domain])) as ResolveReply;
  if (reply[0] !== 1) return { kind: 'remote' };
  const [, [hash, quota], alias, [baseHash, baseQuota], baseAlias, catchAll] = reply;

  // Decide.
  if (hash !== null) return { kind: 'user', user: address, folder: null, quotaBytes: parseQuota(quota) };
  if (alias !== null) return { kind: 'alias', targets: parseList(alias) };
  if (sub && baseHash !== null) return { kind: 'user', user: base, folder: toFolder(sub.tag), quotaBytes: parseQuota(baseQuota) };
  if (sub && baseAlias !== null) return { kind: 'alias', targets: parseList(baseAlias) };
  if (catchAll !== null) return { kind: 'alias', targets: [catchAll] };
  return { kind: 'unknown' };
}

/**
 * KEYS: domains, user, alias, base user, base alias, catch-alls; ARGV: domain. A script rather
 * than a MULTI: ioredis builds each MULTI by copying every script defined on the client (BullMQ
 * defines dozens on a shared one), which costs more than the lookups.
 */
const resolveLua = `
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return {0} end
return {1, redis.call('HMGET', KEYS[2], 'hash', 'quota'), redis.call('GET', KEYS[3]),
  redis.call('HMGET', KEYS[4], 'hash', 'quota'), redis.call('GET', KEYS[5]), redis.call('HGET', KEYS[6], ARGV[1])}`;

type Field = string | null;
type ResolveReply = [0] | [1, [Field, Field], Field, [Field, Field], Field, Field];

/** The folder a sub-address tag names, or null for the inbox. */
function toFolder(tag: string): string | null {
  return folderName.test(tag) && !tag.includes('..') ? tag : null;
}
