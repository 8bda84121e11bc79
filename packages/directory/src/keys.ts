/**
 * The directory's Redis key layout. Every agent on every host reads the same keys, so this
 * file is the layout's one definition. Addresses and domains in key names are canonical
 * (see address.ts).
 *
 *   {prefix}dir:domains            set    local domains
 *   {prefix}dir:user:{address}     hash   hash      encoded password hash (password.ts)
 *                                         sendAs    JSON array of addresses and `@domain` entries
 *                                         quota     bytes, or '' for no quota
 *                                         createdAt milliseconds since the epoch
 *   {prefix}dir:users:{domain}     set    addresses of the domain's users
 *   {prefix}dir:alias:{source}     string JSON array of target addresses
 *   {prefix}dir:aliases            set    alias source addresses
 *   {prefix}dir:catchall           hash   domain → catch-all target address
 *
 * The login limits (@mailway/agent/smtp-auth) keep their keys beside it, every one with an expiry:
 * {prefix}authfail:ip:{client}, {prefix}authfail:pair:{sha-256 of user and client} and
 * {prefix}authfail:user:{sha-256 of user} (failure counts), and {prefix}authknown:{sha-256 of
 * user} (the clients the user logged in from recently).
 *
 * Changes that touch several keys are atomic (MULTI or a Lua script), so on Redis Cluster the
 * prefix must carry a hash tag, e.g. `{mailway}:`, to keep these keys in one slot.
 */

/** The directory's key names under one prefix. */
export interface DirectoryKeys {
  readonly domains: string;
  readonly aliases: string;
  readonly catchAll: string;
  user(address: string): string;
  users(domain: string): string;
  alias(source: string): string;
}

/** The key names for `prefix` (e.g. 'mailway:'). */
export function directoryKeys(prefix: string): DirectoryKeys {
  const base = `${prefix}dir:`;
  return {
    domains: `${base}domains`,
    aliases: `${base}aliases`,
    catchAll: `${base}catchall`,
    user: (address) => `${base}user:${address}`,
    users: (domain) => `${base}users:${domain}`,
    alias: (source) => `${base}alias:${source}`,
  };
}
