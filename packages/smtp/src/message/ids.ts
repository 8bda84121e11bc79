/**
 * Message-ID and Date values for messages that arrive without them (RFC 6409 §8 fix-ups) and
 * for messages Mailway writes itself (bounces, test mail).
 *
 * Reads a domain, a Date and the system clock and random source; emits RFC 5322 `msg-id` and
 * `date-time` text, never a whole field.
 */
import { randomBytes } from 'node:crypto';
import { isAddressLiteral, isDotAtom } from './syntax.js';

/**
 * A new RFC 5322 msg-id, `<time.random@domain>`: milliseconds since the epoch in base 36, then
 * 80 random bits in base 32. The random part alone makes a collision between processes or
 * hosts negligible; the time part keeps ids roughly sortable.
 */
export function generateMessageId(domain: string): string {
  // Sanity checks: id-right must be a dot-atom-text or a no-fold-literal.
  if (!isDotAtom(domain) && !isAddressLiteral(domain)) throw new TypeError(`not a Message-ID domain: ${JSON.stringify(domain)}`);
  return `<${Date.now().toString(36)}.${base32(randomBytes(10))}@${domain}>`;
}

const base32Alphabet = 'abcdefghijklmnopqrstuvwxyz234567';

/** Lower-case RFC 4648 base 32 without padding: every character is atext. */
function base32(bytes: Buffer): string {
  let out = '';
  let bits = 0;
  let acc = 0;
  for (const byte of bytes) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += base32Alphabet[(acc >>> bits) & 31];
    }
  }
  if (bits > 0) out += base32Alphabet[(acc << (5 - bits)) & 31];
  return out;
}

const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

/** Which clock the date is written in. */
export type DateZone = 'local' | 'utc';

/**
 * An RFC 5322 §3.3 date-time with a numeric zone: `Wed, 25 Nov 2026 09:02:05 +0000`. In the
 * local zone by default (as Postfix writes it), or in UTC.
 */
export function formatDate(date: Date = new Date(), zone: DateZone = 'local'): string {
  // Sanity checks.
  const time = date.getTime();
  if (!Number.isFinite(time)) throw new RangeError('invalid date');

  // Shift to the wall clock of the zone, then read it with the UTC getters.
  const offset = zone === 'utc' ? 0 : -Math.round(date.getTimezoneOffset());
  const wall = new Date(time + offset * 60_000);
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  const zoneText = `${sign}${pad(Math.floor(abs / 60), 2)}${pad(abs % 60, 2)}`;

  if (wall.getUTCFullYear() < 0 || wall.getUTCFullYear() > 9999) throw new RangeError('date outside years 0-9999');

  const day = days[wall.getUTCDay()] ?? 'Sun';
  const month = months[wall.getUTCMonth()] ?? 'Jan';
  return `${day}, ${pad(wall.getUTCDate(), 2)} ${month} ${pad(wall.getUTCFullYear(), 4)} ${pad(wall.getUTCHours(), 2)}:${pad(wall.getUTCMinutes(), 2)}:${pad(wall.getUTCSeconds(), 2)} ${zoneText}`;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}
