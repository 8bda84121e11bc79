/**
 * Serving the admin API and dashboard (app.ts) on its own port over a Redis connection of its
 * own: the queue admin, the trace record, and for bounces the spool and the transfer queue. Also
 * `/metrics` (Prometheus, no data about mail, so without the token) and `/healthz`.
 *
 * Reads: the admin settings (config.ts), checked by the caller. Emits: `admin API listening`,
 * one line per action, the request counter.
 */
import type { AddressInfo } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import type { Redis } from 'ioredis';
import { createQueueAdmin } from '@mailway/queue/admin';
import { bullPrefix, createMailQueue } from '@mailway/queue/queues';
import type { Spool } from '@mailway/queue/spool';
import { createTraceLog } from '@mailway/queue/trace';
import type { Metrics } from '@mailway/runtime';
import { type AdminLogger, createAdminApp } from './app.js';

export interface AdminServerOptions {
  readonly host: string;
  readonly port: number;
  readonly token: string;
  readonly redis: Redis;
  /** The Mailway key prefix (`mailway:`). */
  readonly prefix: string;
  readonly spool: Spool;
  /** How notices are written: this host's name, how much of the original goes back. */
  readonly notices: { readonly hostname: string; readonly returnLimit: number };
  readonly traceRetentionMs: number;
  readonly logger: AdminLogger;
  readonly metrics: Metrics;
}

export interface AdminServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Listens on `host:port`; resolves once it does. */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const { redis, prefix, spool, logger } = options;
  const trace = createTraceLog(redis, { prefix, retentionMs: options.traceRetentionMs, onError: (error, queueId) => logger.warn({ queueId, err: error }, 'trace event not stored') });
  const admin = createQueueAdmin(redis, { prefix, spool, trace });
  const transfer = createMailQueue('transfer', redis, { prefix: bullPrefix(prefix) });
  const requests = options.metrics.counter('admin_requests_total', 'Admin API requests by route and status', ['route', 'status']);
  const app = createAdminApp({ admin, trace, token: options.token, logger, requests, bounce: { ...options.notices, spool, targets: { spool, transfer, trace } } });
  app.get('/metrics', async (c) => c.body(await options.metrics.registry.metrics(), 200, { 'content-type': options.metrics.registry.contentType }));
  app.get('/healthz', (c) => c.text('ok'));

  const server = await new Promise<ServerType>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: options.host, port: options.port }, () => resolve(s));
    s.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ host: options.host, port }, 'admin API listening');
  return {
    port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // A browser's idle keep-alive connection would hold the close for seconds; requests in flight finish.
      if ('closeIdleConnections' in server) server.closeIdleConnections();
      await closed;
      await trace.flush();
      await admin.close();
      await transfer.close();
    },
  };
}
