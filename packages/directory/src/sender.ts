/**
 * Sender authorisation: may an authenticated user put this address in MAIL FROM or From?
 * Reads the user's send-as list and the aliases in one script call; emits a yes or no.
 *
 * Yes for the user's own address and its sub-addresses (`user+tag`), for addresses in the
 * send-as list (and their sub-addresses), for any address of a domain listed as `@domain`,
 * and for an alias whose targets include the user. No for everything else, an unknown user
 * and an address that does not parse.
 */
import { normalizeAddress, splitSubaddress } from './address.js';
import type { DirectoryContext } from './context.js';
import { DirectoryError } from './errors.js';
import { parseList, callScript } from './store.js';

/** KEYS: the user, then the aliases to look at. Returns the send-as list, then each alias's targets. */
const lookupLua = `
local replies = {redis.call('HGET', KEYS[1], 'sendAs')}
for i = 2, #KEYS do replies[i] = redis.call('GET', KEYS[i]) end
return replies`;

/** True when `user` may use `text` as its sender address. */
export async function mayUseAddress(ctx: DirectoryContext, user: string, text: string): Promise<boolean> {
  const owner = normalizeAddress(user);
  const address = tryNormalize(text);
  if (address === null) return false;
  const sub = splitSubaddress(address, ctx.separator);
  const candidates = sub ? [address, sub.base] : [address];
  const wildcard = address.slice(address.lastIndexOf('@'));

  // The send-as list and the aliases the address could be, in one round trip.
  const { keys } = ctx;
  const [sendAs, ...aliases] = (await callScript(ctx.redis, 'sendAs', lookupLua, [keys.user(owner), ...candidates.map((c) => keys.alias(c))], [])) as (string | null)[];

  // Decide.
  if (typeof sendAs !== 'string') return false; // no such user
  const entries = parseList(sendAs);
  if (entries.includes(wildcard)) return true;
  if (candidates.some((c) => c === owner || entries.includes(c))) return true;
  return aliases.some((targets) => typeof targets === 'string' && parseList(targets).includes(owner));
}

/** The canonical address, or null when `text` is not one. */
function tryNormalize(text: string): string | null {
  try {
    return normalizeAddress(text);
  } catch (error) {
    if (error instanceof DirectoryError) return null;
    throw error;
  }
}
