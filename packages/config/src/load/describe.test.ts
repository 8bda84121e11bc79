import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { hostnameSetting, httpSettings, logSettings, redisSettings, setting, tlsSettings } from '../schema/index.js';
import { describeSettings } from './describe.js';

describe('describeSettings', () => {
  it('lists every bound setting with its key and default, in schema order', () => {
    const schema = z.object({
      hostname: hostnameSetting,
      redis: redisSettings,
      log: logSettings,
      relay: z.object({
        port: setting.port('RELAY_PORT', 25),
        queueLifetime: setting.duration('RELAY_QUEUE_LIFETIME', 5 * 86_400_000),
        http: httpSettings('RELAY', 9102),
        tls: tlsSettings('RELAY'),
        unbound: z.string().optional(),
      }),
    });
    expect(describeSettings(schema)).toEqual([
      { env: 'MAILWAY_HOSTNAME', key: 'hostname', fallback: hostname() },
      { env: 'REDIS_URL', key: 'redis.url', fallback: 'redis://127.0.0.1:6379' },
      { env: 'MAILWAY_REDIS_PREFIX', key: 'redis.prefix', fallback: 'mailway:' },
      { env: 'REDIS_SENTINELS', key: 'redis.sentinels', fallback: [] },
      { env: 'REDIS_SENTINEL_NAME', key: 'redis.sentinelName', fallback: undefined },
      { env: 'REDIS_SENTINEL_USERNAME', key: 'redis.sentinelUsername', fallback: undefined },
      { env: 'REDIS_SENTINEL_PASSWORD', key: 'redis.sentinelPassword', fallback: undefined },
      { env: 'REDIS_CLUSTER_NODES', key: 'redis.clusterNodes', fallback: [] },
      { env: 'REDIS_WAIT_REPLICAS', key: 'redis.waitReplicas', fallback: undefined },
      { env: 'REDIS_WAIT_TIMEOUT', key: 'redis.waitTimeout', fallback: 1000 },
      { env: 'LOG_LEVEL', key: 'log.level', fallback: 'info' },
      { env: 'RELAY_PORT', key: 'relay.port', fallback: 25 },
      { env: 'RELAY_QUEUE_LIFETIME', key: 'relay.queueLifetime', fallback: 432_000_000 },
      { env: 'RELAY_HTTP_HOST', key: 'relay.http.host', fallback: '127.0.0.1' },
      { env: 'RELAY_HTTP_PORT', key: 'relay.http.port', fallback: 9102 },
      { env: 'RELAY_TLS_CERT', key: 'relay.tls.certFile', fallback: undefined },
      { env: 'RELAY_TLS_KEY', key: 'relay.tls.keyFile', fallback: undefined },
    ]);
  });
});
