import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { type HttpEndpoint, startHttpEndpoint } from './health.js';
import { createMetrics } from './metrics.js';

const endpoints: HttpEndpoint[] = [];
afterEach(async () => {
  await Promise.all(endpoints.splice(0).map((endpoint) => endpoint.close()));
});

/** Starts an endpoint on a free loopback port with the given readiness. */
async function endpoint(ready: () => boolean | Promise<boolean>) {
  const metrics = createMetrics('submission');
  const started = await startHttpEndpoint({ host: '127.0.0.1', port: 0, metrics, ready });
  endpoints.push(started);
  return { metrics, url: `http://127.0.0.1:${started.port}` };
}

/** One request through node:http, showing status, headers and body exactly as sent. */
function raw(url: string, method: string) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const req = request(url, { method }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('startHttpEndpoint', () => {
  it('serves /metrics as Prometheus text with the agent label', async () => {
    const { metrics, url } = await endpoint(() => true);
    metrics.counter('messages_accepted_total', 'Messages accepted.').inc(5);

    const response = await fetch(`${url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await response.text()).toMatch(/^mailway_messages_accepted_total\{agent="submission"\} 5$/m);
  });

  it('answers /healthz, and /readyz as ready() says (a throw counts as not ready)', async () => {
    let state: boolean | Error = false;
    const { url } = await endpoint(async () => {
      if (state instanceof Error) throw state;
      return state;
    });
    const readyz = async () => {
      const response = await fetch(`${url}/readyz`);
      return [response.status, await response.text()];
    };

    expect(await (await fetch(`${url}/healthz`)).text()).toBe('ok\n');
    expect(await readyz()).toEqual([503, 'not ready\n']);
    state = true;
    expect(await readyz()).toEqual([200, 'ready\n']);
    state = new Error('redis down');
    expect(await readyz()).toEqual([503, 'not ready\n']);
  });

  it('answers HEAD with headers only, 404 for other paths and 405 for other methods', async () => {
    const { url } = await endpoint(() => true);

    const head = await raw(`${url}/healthz`, 'HEAD');
    expect(head).toMatchObject({ status: 200, body: '' });
    expect(head.headers['content-length']).toBe('3');
    expect(await raw(`${url}/healthz?probe=1`, 'GET')).toMatchObject({ status: 200, body: 'ok\n' });
    expect(await raw(`${url}/`, 'GET')).toMatchObject({ status: 404, body: 'not found\n' });
    expect(await raw(`${url}/metrics/extra`, 'GET')).toMatchObject({ status: 404 });
    const post = await raw(`${url}/metrics`, 'POST');
    expect(post).toMatchObject({ status: 405, body: 'method not allowed\n' });
    expect(post.headers['allow']).toBe('GET, HEAD');
  });

  it('closes, freeing the port, even with a keep-alive connection open', async () => {
    const metrics = createMetrics('relay');
    const started = await startHttpEndpoint({ host: '127.0.0.1', port: 0, metrics, ready: () => true });
    await fetch(`http://127.0.0.1:${started.port}/healthz`);
    await started.close();
    await expect(fetch(`http://127.0.0.1:${started.port}/healthz`)).rejects.toThrow();
  });
});
