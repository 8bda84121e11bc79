/**
 * Routing of a message's recipients: each goes either to a local mailbox (its domain is one of
 * the directory's) or to a remote domain. The relay's transfer worker routes every message it
 * takes; the intake routes a message at hand-off to learn whether it can skip that step. Reads the envelope recipients and the
 * directory's domain list; emits the local recipients in order and the remote ones grouped by
 * destination domain (lower-case, A-labels), in order of first appearance.
 *
 * A recipient named twice is routed once: a local address compared as the directory does
 * (case-insensitively, which is also how delivery job ids are made), a remote one exactly.
 * The spare spool references are counted in `duplicates` for the caller to release.
 */
import { type Directory, DirectoryError } from '@mailway/directory';
import type { EnvelopeRecipient } from '@mailway/queue/jobs';
import { asciiDomain } from '@mailway/smtp/address';

export interface Routes {
  readonly local: readonly EnvelopeRecipient[];
  /** Remote recipients by destination domain. */
  readonly remote: ReadonlyMap<string, readonly EnvelopeRecipient[]>;
  /** Recipients left out because they repeat an earlier one. */
  readonly duplicates: number;
}

/** Split `recipients` by route, asking the directory once per domain. */
export async function routeRecipients(directory: Directory, recipients: readonly EnvelopeRecipient[]): Promise<Routes> {
  const localDomains = new Map<string, boolean>();
  const local: EnvelopeRecipient[] = [];
  const remote = new Map<string, EnvelopeRecipient[]>();
  const seen = new Set<string>();
  let duplicates = 0;

  for (const recipient of recipients) {
    const domain = routingDomain(recipient.address);
    let isLocal = localDomains.get(domain);
    if (isLocal === undefined) {
      isLocal = await isLocalDomain(directory, domain);
      localDomains.set(domain, isLocal);
    }
    const key = isLocal ? `local|${recipient.address.toLowerCase()}` : `remote|${recipient.address}`;
    if (seen.has(key)) {
      duplicates += 1;
      continue;
    }
    seen.add(key);
    if (isLocal) local.push(recipient);
    else remote.set(domain, [...(remote.get(domain) ?? []), recipient]);
  }
  return { local, remote, duplicates };
}

/** Is `domain` ours? An address literal or a name the directory cannot read never is. */
async function isLocalDomain(directory: Directory, domain: string): Promise<boolean> {
  if (isAddressLiteral(domain)) return false;
  try {
    return await directory.isLocalDomain(domain);
  } catch (error) {
    if (error instanceof DirectoryError) return false;
    throw error;
  }
}

/** The domain of a stored address, lower-case with A-labels (an address literal is kept as written). */
export function routingDomain(address: string): string {
  return asciiDomain(address.slice(address.lastIndexOf('@') + 1));
}

/** True when the domain is an address literal (`[192.0.2.1]`, `[IPv6:…]`): never one of ours. */
export function isAddressLiteral(domain: string): boolean {
  return domain.startsWith('[');
}
