/**
 * An MTA-STS policy server for tests: node's HTTPS server on a loopback address, answering
 * `GET /.well-known/mta-sts.txt` for each `mta-sts.<domain>` host (by SNI and Host) as the
 * test says: a policy, another status or content type, a redirect, a dropped connection, or
 * silence.
 * Counts the requests per host.
 */
import { type Server, createServer } from 'node:https';
import type { Socket } from 'node:net';

export type PolicyAnswer =
  | { readonly policy: string; readonly status?: number; readonly type?: string }
  | { readonly redirect: string }
  | { readonly drop: true }
  /** Take the request and never answer it. */
  | { readonly hang: true };

export interface PolicyServer {
  /** What each host (`mta-sts.<domain>`) answers now; change it at will. */
  readonly answers: Map<string, PolicyAnswer>;
  /** Requests per host. */
  readonly requests: Map<string, number>;
  close(): Promise<void>;
}

export async function startPolicyServer(address: string, port: number, certificate: { key: string; cert: string }): Promise<PolicyServer> {
  const answers = new Map<string, PolicyAnswer>();
  const requests = new Map<string, number>();
  const sockets = new Set<Socket>();
  const server: Server = createServer({ key: certificate.key, cert: certificate.cert }, (req, res) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    requests.set(host, (requests.get(host) ?? 0) + 1);
    const answer = answers.get(host);
    if (req.url !== '/.well-known/mta-sts.txt' || answer === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    if ('hang' in answer) return;
    if ('drop' in answer) {
      req.socket.destroy();
      return;
    }
    if ('redirect' in answer) {
      res.writeHead(301, { location: answer.redirect }).end();
      return;
    }
    res.writeHead(answer.status ?? 200, { 'content-type': answer.type ?? 'text/plain; charset=utf-8' }).end(answer.policy);
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve());
  });
  return {
    answers,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
