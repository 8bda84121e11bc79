/**
 * Alias cycles, found before they are stored: would `source → targets` let mail for `source`
 * come back to `source` through the directory's existing aliases, sub-addresses and
 * catch-alls? Reads the directory as the delivery agent would expand it (resolve); emits the
 * first such cycle as a path (`a → b → a`), or null. Loops through other systems cannot be
 * seen from here: the delivery agent keeps its own guard.
 */
import { normalizeAddress, splitSubaddress } from './address.js';
import type { DirectoryContext } from './context.js';
import { resolveRecipient } from './resolve.js';

/** The first path from `source` through `targets` back to `source`, or null when there is none. */
export async function findAliasCycle(ctx: DirectoryContext, sourceText: string, targets: readonly string[]): Promise<string[] | null> {
  const source = normalizeAddress(sourceText);
  const seen = new Set<string>();

  // Depth first, each address expanded once: the directory is finite, so this ends.
  const walk = async (path: readonly string[]): Promise<string[] | null> => {
    const address = path[path.length - 1] ?? source;
    if (await reachesSource(address)) return [...path];
    if (seen.has(address)) return null;
    seen.add(address);
    const resolution = await resolveRecipient(ctx, address);
    if (resolution.kind !== 'alias') return null;
    for (const next of resolution.targets) {
      const found = await walk([...path, normalizeAddress(next)]);
      if (found !== null) return found;
    }
    return null;
  };

  /** The source itself, or a sub-address of it with no user or alias of its own (it resolves through the source). */
  async function reachesSource(address: string): Promise<boolean> {
    if (address === source) return true;
    if (splitSubaddress(address, ctx.separator)?.base !== source) return false;
    return (await ctx.redis.exists(ctx.keys.user(address), ctx.keys.alias(address))) === 0;
  }

  for (const target of targets) {
    const found = await walk([source, normalizeAddress(target)]);
    if (found !== null) return found;
  }
  return null;
}
