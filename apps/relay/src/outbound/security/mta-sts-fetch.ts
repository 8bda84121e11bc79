/**
 * Fetches a domain's MTA-STS policy file: `https://mta-sts.<domain>/.well-known/mta-sts.txt`
 * (RFC 8461 §3.3).
 *
 * The certificate must chain to a trusted root and be valid for `mta-sts.<domain>`; redirects
 * are not followed; only a 200 with media type text/plain counts; the body is cut off past
 * 64 KB and the whole fetch past a time limit. The name is resolved through the relay's own
 * resolver (RELAY_DNS_SERVERS), as every other outbound name is.
 *
 * Reads: DNS (A/AAAA of the policy host), the HTTPS server. Emits: the policy text, or an
 * error whose message says why there is none.
 */
import { request } from 'node:https';
import type { LookupFunction } from 'node:net';
import type { MxDns } from '../mx.js';

export interface PolicyFetchOptions {
  /** Resolves the policy host (A, then AAAA). */
  readonly dns: Pick<MxDns, 'resolve4' | 'resolve6'>;
  /** Trusted roots (PEM); Node's bundled roots when unset. */
  readonly ca?: readonly string[];
  /** 443; another port only for tests. */
  readonly port: number;
  /** The whole fetch, connection to last byte, in ms. */
  readonly timeout: number;
}

/** RFC 8461 §3.3 lets senders limit the size of a policy; 64 KB is far above any real one. */
export const maxPolicyBytes = 64 * 1024;

/** The text of `domain`'s policy file; rejects with the reason when there is none to use. */
export function fetchPolicyText(domain: string, options: PolicyFetchOptions): Promise<string> {
  const host = `mta-sts.${domain}`;
  return new Promise<string>((resolve, reject) => {
    const req = request({
      host,
      port: options.port,
      path: '/.well-known/mta-sts.txt',
      method: 'GET',
      servername: host,
      ...(options.ca === undefined ? {} : { ca: [...options.ca] }),
      rejectUnauthorized: true,
      lookup: lookupThrough(options.dns),
      // A connection of its own: nothing pooled outlives the fetch.
      agent: false,
      headers: { accept: 'text/plain', connection: 'close' },
    });
    const timer = setTimeout(() => req.destroy(new Error(`no complete answer within ${options.timeout} ms`)), options.timeout);
    const done = (error: Error | null, text?: string): void => {
      clearTimeout(timer);
      if (error !== null) reject(error);
      else resolve(text ?? '');
    };
    req.on('error', (error) => done(new Error(`https://${host}: ${error.message}`)));
    req.on('response', (res) => {
      // Sanity checks: a 200 with a text/plain body, and no redirect followed (§3.3).
      const status = res.statusCode ?? 0;
      const type = (res.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
      const refuse = (why: string): void => {
        res.destroy();
        req.destroy();
        done(new Error(`https://${host}: ${why}`));
      };
      if (status >= 300 && status < 400) return refuse(`HTTP ${status} redirect, not followed (RFC 8461 §3.3)`);
      if (status !== 200) return refuse(`HTTP ${status}`);
      if (type !== 'text/plain') return refuse(`content type "${type ?? ''}", not text/plain`);

      // The body, up to the limit.
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxPolicyBytes) return refuse(`policy larger than ${maxPolicyBytes} octets`);
        chunks.push(chunk);
      });
      res.on('end', () => done(null, Buffer.concat(chunks).toString('utf8')));
      res.on('error', (error) => done(new Error(`https://${host}: ${error.message}`)));
    });
    req.end();
  });
}

/** A `lookup` for node:net that asks `dns` (IPv4 first, then IPv6) instead of the system's resolver. */
export function lookupThrough(dns: PolicyFetchOptions['dns']): LookupFunction {
  return (hostname, options, callback) => {
    const find = async (): Promise<Array<{ address: string; family: 4 | 6 }>> => {
      const v4 = await dns.resolve4(hostname).catch(() => [] as string[]);
      if (v4.length > 0) return v4.map((address) => ({ address, family: 4 as const }));
      const v6 = await dns.resolve6(hostname).catch(() => [] as string[]);
      return v6.map((address) => ({ address, family: 6 as const }));
    };
    find().then(
      (found) => {
        const first = found[0];
        if (first === undefined) {
          const error: NodeJS.ErrnoException = new Error(`${hostname} has no address records`);
          error.code = 'ENOTFOUND';
          callback(error, '', 4);
          return;
        }
        if (options.all === true) (callback as unknown as (e: null, all: typeof found) => void)(null, found);
        else callback(null, first.address, first.family);
      },
      (error: unknown) => callback(error as NodeJS.ErrnoException, '', 4),
    );
  };
}
