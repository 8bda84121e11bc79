/**
 * The agent's HTTP endpoint for operators: `/metrics` (Prometheus text), `/healthz` (the
 * process is alive) and `/readyz` (the agent takes work). GET and HEAD only; nothing else
 * is served, and no configuration is ever shown.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from './metrics.js';

export interface HttpEndpointOptions {
  readonly host: string;
  /** 0 picks a free port; the chosen one is `HttpEndpoint.port`. */
  readonly port: number;
  readonly metrics: Metrics;
  /** Is the agent ready to take work? A throw counts as not ready. */
  readonly ready: () => boolean | Promise<boolean>;
}

export interface HttpEndpoint {
  readonly port: number;
  close(): Promise<void>;
}

interface Answer {
  readonly status: number;
  readonly type: string;
  readonly body: string;
}

const text = 'text/plain; charset=utf-8';

/** The served paths. */
const routes = new Map<string, (options: HttpEndpointOptions) => Promise<Answer>>([
  ['/metrics', async ({ metrics }) => ({ status: 200, type: metrics.registry.contentType, body: await metrics.registry.metrics() })],
  ['/healthz', async () => ({ status: 200, type: text, body: 'ok\n' })],
  ['/readyz', async ({ ready }) => ((await isReady(ready)) ? { status: 200, type: text, body: 'ready\n' } : { status: 503, type: text, body: 'not ready\n' })],
]);

/** Starts listening; resolves once the port is bound. */
export async function startHttpEndpoint(options: HttpEndpointOptions): Promise<HttpEndpoint> {
  const server = createServer((request, response) => void respond(request, response, options));
  await listen(server, options.host, options.port);
  const { port } = server.address() as AddressInfo;
  return { port, close: () => close(server) };
}

/** Answers one request. */
async function respond(request: IncomingMessage, response: ServerResponse, options: HttpEndpointOptions): Promise<void> {
  // Guard clauses.
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return send(request, response, { status: 405, type: text, body: 'method not allowed\n' }, { Allow: 'GET, HEAD' });
  }
  const route = routes.get(new URL(request.url ?? '/', 'http://endpoint').pathname);
  if (!route) return send(request, response, { status: 404, type: text, body: 'not found\n' });

  // Serve; a failure gets a generic answer (detail stays in the process).
  let answer: Answer;
  try {
    answer = await route(options);
  } catch {
    answer = { status: 500, type: text, body: 'internal error\n' };
  }
  send(request, response, answer);
}

/** Writes the answer; HEAD gets the headers only. */
function send(request: IncomingMessage, response: ServerResponse, answer: Answer, headers: Record<string, string> = {}): void {
  const body = Buffer.from(answer.body, 'utf8');
  response.writeHead(answer.status, { ...headers, 'Content-Type': answer.type, 'Content-Length': body.length, 'Cache-Control': 'no-store' });
  response.end(request.method === 'HEAD' ? undefined : body);
}

/** ready(), with a throw or rejection counted as false. */
async function isReady(ready: HttpEndpointOptions['ready']): Promise<boolean> {
  try {
    return (await ready()) === true;
  } catch {
    return false;
  }
}

/** server.listen as a promise that rejects on EADDRINUSE and the like. */
function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Stops listening and drops open connections (a scrape in flight is not worth waiting for). */
function close(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeAllConnections();
  });
}
