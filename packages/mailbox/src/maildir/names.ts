/**
 * Maildir file names (https://cr.yp.to/proto/maildir.html), in the form
 * `${seconds}.M${microseconds}P${pid}Q${hash}.${host},S=${size}` once in new/, where `hash` is
 * 16 hex digits of the delivery key: the time, process and key keep names unique, and the hash
 * lets a retried delivery find its own earlier copy. In cur/ a reader appends `:2,flags`.
 */
import { performance } from 'node:perf_hooks';

/** A tmp/ name for a delivery with key digest `hash`. */
export function uniqueName(hash: string, host: string): string {
  const micros = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  return `${Math.floor(micros / 1e6)}.M${micros % 1e6}P${process.pid}Q${hash}.${host}`;
}

/** The new/ name: the tmp/ name with the size, so quota needs no stat (Maildir++ S=). */
export function withSize(name: string, size: number): string {
  return `${name},S=${size}`;
}

/** The S= size in a name, or null when it has none. */
export function sizeFromName(name: string): number | null {
  const match = /,S=(\d+)/.exec(name.split(':', 1)[0] ?? name);
  return match ? Number(match[1]) : null;
}

/** Whether `name` is the copy of the delivery whose key digest is `hash`. */
export function carriesKey(name: string, hash: string): boolean {
  return name.includes(`Q${hash}.`);
}

/** A host name as the spec wants it in a file name: '/' and ':' (and ',', for S=) escaped in octal. */
export function safeHost(hostname: string): string {
  return hostname.replace(/[/:,\\]/g, (char) => `\\${char.charCodeAt(0).toString(8).padStart(3, '0')}`) || 'localhost';
}
