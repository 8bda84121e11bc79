/**
 * The admin HTTP API: the queue tools of `mailway queue` and `mailway trace` as JSON over HTTP,
 * for dashboards and scripts, and the web dashboard (dashboard.ts) that uses it.
 *
 *   GET    /api/summary                 counts by state, deferred outbound mail by domain and age
 *   GET    /api/messages?state=&domain=&sender=&q=   queued messages (q: part of an id, sender or recipient)
 *   GET    /api/messages/:id            one message: envelope, origin, jobs, attempts
 *   GET    /api/messages/:id/trace      its path (events in Redis's order)
 *   POST   /api/messages/:id/retry|hold|release|bounce
 *   DELETE /api/messages/:id
 *   POST   /api/retry?domain=           every deferred outbound job (to domain) runs now
 *
 * Every /api request needs `Authorization: Bearer <MAILWAY_ADMIN_TOKEN>` (401 otherwise). The
 * dashboard's pages hold no data and are served without it; their script asks for the token
 * once and keeps it in the tab's sessionStorage. Emits: one log line per action, and
 * `mailway_admin_requests_total{route,status}`.
 */
import { Hono } from 'hono';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { QueueAdmin, QueueFilter, QueuedMessage } from '@mailway/queue/admin';
import { recipientStates } from '@mailway/queue/admin';
import { queueIdPattern } from '@mailway/queue/jobs';
import type { TraceLog } from '@mailway/queue/trace';
import { type BounceContext, bounceMessage } from '../bounce.js';
import { dashboardPage, dashboardScript, messagePage } from './dashboard.js';

export interface AdminLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface AdminAppOptions {
  readonly admin: QueueAdmin;
  readonly trace: TraceLog;
  readonly bounce: BounceContext;
  readonly token: string;
  readonly logger: AdminLogger;
  /** Counts requests by route and status. */
  readonly requests?: { inc(labels: { route: string; status: string }): void };
}

/** The Hono app of the admin API and dashboard. */
export function createAdminApp(options: AdminAppOptions): Hono {
  const { admin, trace, logger } = options;
  const app = new Hono();

  // Count every request under its route pattern, never its raw path (ids would grow the label set).
  app.use('*', async (c, next) => {
    await next();
    options.requests?.inc({ route: `${c.req.method} ${c.req.routePath}`, status: String(c.res.status) });
  });

  // The dashboard: pages without data, and their script.
  app.get('/', (c) => c.html(dashboardPage()));
  app.get('/messages/:id', (c) => c.html(messagePage()));
  app.get('/dashboard.js', (c) => c.body(dashboardScript(), 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' }));

  // The API, behind the token.
  const api = new Hono();
  api.use('*', bearerToken(options.token));

  api.get('/summary', async (c) => c.json(await admin.summary()));

  api.get('/messages', async (c) => {
    const state = c.req.query('state');
    if (state !== undefined && state !== '' && !(recipientStates as readonly string[]).includes(state)) return c.json({ error: `state must be one of ${recipientStates.join(', ')}` }, 400);
    const filter: QueueFilter = {
      ...(state ? { state: state as QueueFilter['state'] & string } : {}),
      ...(c.req.query('domain') ? { domain: c.req.query('domain')! } : {}),
      ...(c.req.query('sender') !== undefined ? { sender: c.req.query('sender')! } : {}),
    };
    const q = c.req.query('q')?.trim().toLowerCase() ?? '';
    const messages = await admin.list(filter);
    return c.json(q === '' ? messages : messages.filter((m) => matches(m, q)));
  });

  // Every route under /messages/:id checks the id first.
  api.use('/messages/:id/*', async (c, next) => (queueIdPattern.test(c.req.param('id') ?? '') ? next() : c.json({ error: 'not a queue id' }, 400)));
  api.use('/messages/:id', async (c, next) => (queueIdPattern.test(c.req.param('id') ?? '') ? next() : c.json({ error: 'not a queue id' }, 400)));

  api.get('/messages/:id', async (c) => {
    const detail = await admin.show(c.req.param('id'));
    return detail === null ? c.json({ error: 'no job of this message is queued or kept' }, 404) : c.json(detail);
  });

  api.get('/messages/:id/trace', async (c) => {
    const entries = await trace.read(c.req.param('id'));
    if (entries.length === 0) return c.json({ error: 'no trace of this message' }, 404);
    return c.json(entries.map((e) => ({ ...e.event, storedAt: new Date(e.storedAt).toISOString() })));
  });

  // Actions: each logged with what it did.
  const acted = (action: string, queueId: string | null, fields: object, remote: string | undefined) => logger.info({ action, queueId, remote: remote ?? null, ...fields }, `admin ${action}`);
  const remoteOf = (c: { req: { header(name: string): string | undefined } }) => c.req.header('x-forwarded-for');

  api.post('/messages/:id/retry', async (c) => {
    const result = await admin.retry(c.req.param('id'));
    acted('retry', c.req.param('id'), { promoted: result.promoted.length }, remoteOf(c));
    return c.json(result);
  });
  for (const action of ['hold', 'release'] as const) {
    api.post(`/messages/:id/${action}`, async (c) => {
      const result = await admin[action](c.req.param('id'));
      acted(action, c.req.param('id'), { done: result.done.length, active: result.active.length }, remoteOf(c));
      return c.json(result);
    });
  }
  api.delete('/messages/:id', async (c) => {
    const result = await admin.remove(c.req.param('id'));
    acted('delete', c.req.param('id'), { done: result.done.length, active: result.active.length }, remoteOf(c));
    return c.json(result);
  });
  api.post('/messages/:id/bounce', async (c) => {
    const result = await bounceMessage(admin, c.req.param('id'), options.bounce);
    acted('bounce', c.req.param('id'), { done: result.done.length, active: result.active.length, notice: result.notice, returned: result.returned.length }, remoteOf(c));
    return c.json(result);
  });
  api.post('/retry', async (c) => {
    const domain = c.req.query('domain');
    const result = await admin.retryAll(domain ? { domain } : {});
    acted('retry-all', null, { domain: domain ?? null, promoted: result.promoted.length }, remoteOf(c));
    return c.json(result);
  });

  api.notFound((c) => c.json({ error: 'no such endpoint' }, 404));
  api.onError((error, c) => {
    logger.warn({ err: error, path: c.req.path }, 'admin request failed');
    return c.json({ error: 'internal error' }, 500);
  });
  app.route('/api', api);
  return app;
}

/**
 * Requests must carry `Authorization: Bearer <token>`; anything else is 401 with the challenge
 * of RFC 6750 §3 (`invalid_token` when a wrong token was given). Compared in constant time.
 */
function bearerToken(token: string): MiddlewareHandler {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  const expected = digest(token);
  return async (c, next) => {
    const given = /^Bearer +(\S+) *$/i.exec(c.req.header('authorization') ?? '')?.[1];
    if (given !== undefined && timingSafeEqual(digest(given), expected)) return next();
    const challenge = given === undefined ? 'Bearer realm="mailway-admin"' : 'Bearer realm="mailway-admin", error="invalid_token"';
    return c.json({ error: given === undefined ? 'a bearer token is required' : 'invalid token' }, 401, { 'www-authenticate': challenge });
  };
}

/** Whether `q` (lower case) is part of the message's queue id, Message-ID, sender or a recipient. */
function matches(m: QueuedMessage, q: string): boolean {
  return [m.queueId, m.messageId ?? '', m.sender, ...m.recipients.map((r) => r.address)].some((text) => text.toLowerCase().includes(q));
}
