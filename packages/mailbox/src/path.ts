/**
 * Where a user's mailbox lives: `${root}/${domain}/${local}/Maildir` or `…/mbox`. The address
 * comes from mail, so each part is made safe as one path component: the domain must be a
 * plain domain name, and the local part is percent-encoded where it could escape or confuse a
 * path ('/', NUL, control characters, a leading '.', '%' itself).
 */
import { join } from 'node:path';
import type { MailboxFormat } from './store.js';

const domainPattern = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** The mailbox path of `address` under `root`; TypeError for an address that is not one. */
export function mailboxPath(root: string, address: string, format: MailboxFormat): string {
  const at = address.lastIndexOf('@');
  const local = address.slice(0, at);
  const domain = address.slice(at + 1).toLowerCase();
  if (at < 1 || !domainPattern.test(domain)) throw new TypeError(`not a mailbox address: ${JSON.stringify(address)}`);
  return join(root, domain, encodeLocal(local), format === 'maildir' ? 'Maildir' : 'mbox');
}

/** The local part as one harmless path component. */
function encodeLocal(local: string): string {
  const encoded = [...Buffer.from(local, 'utf8')]
    .map((byte) => (byte > 0x20 && byte < 0x7f && byte !== 0x2f && byte !== 0x25 && byte !== 0x5c ? String.fromCharCode(byte) : percent(byte)))
    .join('');
  // '.', '..' and hidden names: the leading dot is encoded.
  return encoded.startsWith('.') ? `${percent(0x2e)}${encoded.slice(1)}` : encoded;
}

function percent(byte: number): string {
  return `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
}
