/**
 * One DNS question to a DNSSEC-validating resolver, with the answer's AD bit: node:dns shows
 * neither the AD bit nor TLSA records, so the query is built with dns-packet and sent over UDP
 * with EDNS0's DO bit (RFC 3225), as DANE needs (RFC 7672 §2.1).
 *
 * Reads: the resolver's answer. Emits: the response code, whether the resolver vouched for the
 * answer (AD, RFC 4035 §3.2.3), and the records of the type asked for at the name asked.
 */
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import * as packet from 'dns-packet';

export interface DnssecAnswer {
  /** NOERROR, NXDOMAIN, SERVFAIL, … */
  readonly rcode: string;
  /** The resolver validated the answer (or the denial) with DNSSEC. */
  readonly secure: boolean;
  readonly records: readonly packet.Answer[];
}

export interface DnssecResolver {
  query(name: string, type: 'A' | 'AAAA' | 'MX' | 'TLSA' | 'DNSKEY'): Promise<DnssecAnswer>;
}

/** A resolver at `server` (`ip`, `ip:port` or `[ipv6]:port`), asked over UDP with a time limit per try. */
export function dnssecResolver(server: string, options: { readonly timeout?: number; readonly tries?: number } = {}): DnssecResolver {
  const { host, port } = parseServer(server);
  const timeout = options.timeout ?? 5_000;
  const tries = options.tries ?? 2;
  return {
    async query(name, type) {
      let last: unknown = null;
      for (let i = 0; i < tries; i += 1) {
        try {
          return await ask(host, port, name, type, timeout);
        } catch (error) {
          last = error;
        }
      }
      throw last instanceof Error ? last : new Error(String(last));
    },
  };
}

/** One UDP exchange; rejects on a timeout, a truncated answer or an answer to another question. */
function ask(host: string, port: number, name: string, type: string, timeout: number): Promise<DnssecAnswer> {
  const id = randomInt(0, 65_536);
  const query = packet.encode({
    type: 'query',
    id,
    flags: packet.RECURSION_DESIRED,
    questions: [{ type: type as packet.RecordType, name }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, flags: packet.DNSSEC_OK } as packet.Answer],
  });
  const socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
  return new Promise<DnssecAnswer>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`no answer from ${host}:${port} for ${name} ${type} within ${timeout} ms`)), timeout);
    const finish = (error: Error | null, answer?: DnssecAnswer): void => {
      clearTimeout(timer);
      socket.close();
      if (error !== null) reject(error);
      else resolve(answer as DnssecAnswer);
    };
    socket.on('error', (error) => finish(error));
    socket.on('message', (message) => {
      let decoded: packet.DecodedPacket & { rcode?: string };
      try {
        decoded = packet.decode(message);
      } catch {
        return;
      }
      // Sanity checks: our id and question only (an off-path answer is ignored, not believed).
      const question = decoded.questions?.[0];
      if (decoded.id !== id || question === undefined || canonical(question.name) !== canonical(name) || question.type !== type) return;
      if (decoded.flag_tc) return finish(new Error(`the answer for ${name} ${type} was truncated`));
      // Records of the type asked for, at the name or at the end of a CNAME chain the resolver followed.
      const records = (decoded.answers ?? []).filter((answer) => answer.type === type);
      finish(null, { rcode: decoded.rcode ?? 'NOERROR', secure: decoded.flag_ad, records });
    });
    // A question in flight never keeps a stopping process alive.
    socket.unref();
    timer.unref();
    socket.send(query, port, host);
  });
}

/** A name in lower case without its final dot; the root is `.`. */
function canonical(name: string): string {
  return name.toLowerCase().replace(/\.$/, '') || '.';
}

function parseServer(server: string): { host: string; port: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(server);
  if (bracketed !== null) return { host: bracketed[1] as string, port: Number(bracketed[2] ?? 53) };
  if (isIP(server) !== 0) return { host: server, port: 53 };
  const at = server.lastIndexOf(':');
  return { host: server.slice(0, at), port: Number(server.slice(at + 1)) };
}
