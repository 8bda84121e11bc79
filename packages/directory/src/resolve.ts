/**
 * Recipient routing: what the relay asks at RCPT time and the delivery agent asks before
 * writing a mailbox. Reads the directory in one MULTI round trip; emits a Resolution.
 *
 * Order: not a local domain → remote; exact user; exact alias; with the sub-address tag
 * stripped (`user+tag` → `user`), user (the tag names the folder) or alias; the domain's
 * catch-all; else unknown. Alias targets come back as stored: expanding them further is
 * the caller's choice (each target is resolved in turn).
 */
import { normalizeAddress, splitSubaddress } from './address.js';
import type { DirectoryContext } from './context.js';
import { execAll, parseList } from './store.js';

/** Where mail for one recipient address goes. */
export type Resolution =
  | { readonly kind: 'user'; readonly user: string; readonly folder: string | null }
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
  const [local, user, alias, baseUser, baseAlias, catchAll] = await execAll(
    ctx.redis
      .multi()
      .sismember(keys.domains, domain)
      .exists(keys.user(address))
      .get(keys.alias(address))
      .exists(keys.user(base))
      .get(keys.alias(base))
      .hget(keys.catchAll, domain),
  );

  // Decide.
  if (local !== 1) return { kind: 'remote' };
  if (user === 1) return { kind: 'user', user: address, folder: null };
  if (typeof alias === 'string') return { kind: 'alias', targets: parseList(alias) };
  if (sub && baseUser === 1) return { kind: 'user', user: base, folder: toFolder(sub.tag) };
  if (sub && typeof baseAlias === 'string') return { kind: 'alias', targets: parseList(baseAlias) };
  if (typeof catchAll === 'string') return { kind: 'alias', targets: [catchAll] };
  return { kind: 'unknown' };
}

/** The folder a sub-address tag names, or null for the inbox. */
function toFolder(tag: string): string | null {
  return folderName.test(tag) && !tag.includes('..') ? tag : null;
}
