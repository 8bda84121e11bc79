import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError } from '../load/error.js';
import { loadConfig } from '../load/load.js';
import { authFailureSettings, redisSettings } from './fragments.js';

const schema = z.object({ auth: authFailureSettings('AGENT') });

/** The lines of the ConfigError that loading `env` into `of` gives. */
function problems(of: z.ZodType, env: Record<string, string>): string[] {
  try {
    loadConfig(of, { env, file: null });
  } catch (error) {
    if (error instanceof ConfigError) return error.message.split('\n');
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('authFailureSettings', () => {
  it('defaults: 10 per client, 5 per user and client, 10 per user, 15-minute windows, clients known for 30 days', () => {
    expect(loadConfig(schema, { env: {}, file: null }).auth).toEqual({
      perIp: 10,
      perUserIp: 5,
      perUser: 10,
      window: 15 * 60_000,
      knownFor: 30 * 86_400_000,
      delay: 1_000,
    });
  });

  it('reads each from its variable', () => {
    const env = {
      AGENT_AUTH_MAX_FAILURES_PER_IP: '50',
      AGENT_AUTH_MAX_FAILURES_PER_USER_IP: '3',
      AGENT_AUTH_MAX_FAILURES_PER_USER: '20',
      AGENT_AUTH_FAILURE_WINDOW: '1h',
      AGENT_AUTH_KNOWN_CLIENT_TTL: '7d',
      AGENT_AUTH_FAILURE_DELAY: '2s',
    };
    expect(loadConfig(schema, { env, file: null }).auth).toEqual({ perIp: 50, perUserIp: 3, perUser: 20, window: 3_600_000, knownFor: 7 * 86_400_000, delay: 2_000 });
  });

  it('refuses values that would switch a limit off, naming each variable', () => {
    const env = { AGENT_AUTH_MAX_FAILURES_PER_USER_IP: '0', AGENT_AUTH_FAILURE_WINDOW: '0', AGENT_AUTH_KNOWN_CLIENT_TTL: '30s' };
    let error: unknown;
    try {
      loadConfig(schema, { env, file: null });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message.split('\n')).toEqual([
      'invalid configuration: AGENT_AUTH_MAX_FAILURES_PER_USER_IP="0" (auth.perUserIp): expected an integer of at least 1',
      'invalid configuration: AGENT_AUTH_FAILURE_WINDOW="0" (auth.window): expected a duration of at least 1s such as 250ms, 30s, 5m, 1h, 2d or a number of milliseconds',
      'invalid configuration: AGENT_AUTH_KNOWN_CLIENT_TTL="30s" (auth.knownFor): expected a duration of at least 1m such as 250ms, 30s, 5m, 1h, 2d or a number of milliseconds',
    ]);
  });
});

describe('redisSettings', () => {
  const redis = z.object({ redis: redisSettings });

  it('defaults: one server at REDIS_URL, no sentinels, no replica wait set, WAIT for 1 s', () => {
    expect(loadConfig(redis, { env: {}, file: null }).redis).toEqual({ url: 'redis://127.0.0.1:6379', prefix: 'mailway:', sentinels: [], clusterNodes: [], waitTimeout: 1_000 });
  });

  it('reads sentinels as host:port (IPv6 in brackets), the primary name, their credentials and the replica wait', () => {
    const env = {
      REDIS_SENTINELS: '10.0.0.1:26379, sentinel-b.example:26380,[::1]:26381',
      REDIS_SENTINEL_NAME: 'mailway',
      REDIS_SENTINEL_USERNAME: 'watcher',
      REDIS_SENTINEL_PASSWORD: 'pw',
      REDIS_WAIT_REPLICAS: '2',
      REDIS_WAIT_TIMEOUT: '250ms',
    };
    expect(loadConfig(redis, { env, file: null }).redis).toMatchObject({
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: 'sentinel-b.example', port: 26380 },
        { host: '::1', port: 26381 },
      ],
      sentinelName: 'mailway',
      sentinelUsername: 'watcher',
      sentinelPassword: 'pw',
      waitReplicas: 2,
      waitTimeout: 250,
    });
  });

  it('names the key of a bad sentinel list, a missing primary name and a bad replica count', () => {
    expect(problems(redis, { REDIS_SENTINELS: 'sentinel-a:26379,sentinel-b', REDIS_SENTINEL_NAME: 'mailway' })).toEqual([
      'invalid configuration: REDIS_SENTINELS="sentinel-a:26379,sentinel-b" (redis.sentinels): expected host:port, comma-separated (an IPv6 address as [::1]:26379)',
    ]);
    expect(problems(redis, { REDIS_SENTINELS: 'sentinel-a:26379' })).toEqual([
      'invalid configuration: redis.sentinelName (REDIS_SENTINEL_NAME): required when REDIS_SENTINELS is set: the name the sentinels monitor the primary under',
    ]);
    expect(problems(redis, { REDIS_SENTINEL_NAME: 'mailway' })).toEqual([
      'invalid configuration: redis.sentinels (REDIS_SENTINELS): required when REDIS_SENTINEL_NAME is set: the sentinels to ask, as host:port, comma-separated',
    ]);
    expect(problems(redis, { REDIS_WAIT_REPLICAS: 'one' })).toEqual(['invalid configuration: REDIS_WAIT_REPLICAS="one" (redis.waitReplicas): expected an integer from 0 to 16']);
    expect(problems(redis, { REDIS_SENTINELS: 'a:70000', REDIS_SENTINEL_NAME: 'm' })[0]).toContain('REDIS_SENTINELS="a:70000"');
  });

  it('reads cluster nodes, and wants a hash-tag prefix, no sentinels and no replica wait with them', () => {
    const cluster = { REDIS_CLUSTER_NODES: '127.0.0.1:7000,127.0.0.1:7001', MAILWAY_REDIS_PREFIX: '{mailway}:' };
    expect(loadConfig(redis, { env: cluster, file: null }).redis).toMatchObject({ clusterNodes: [{ host: '127.0.0.1', port: 7000 }, { host: '127.0.0.1', port: 7001 }], prefix: '{mailway}:' });
    expect(problems(redis, { ...cluster, MAILWAY_REDIS_PREFIX: 'mailway:' })).toEqual([
      'invalid configuration: MAILWAY_REDIS_PREFIX="mailway:" (redis.prefix): needs a hash tag with REDIS_CLUSTER_NODES, e.g. {mailway}: (keys used together must be in one cluster slot)',
    ]);
    expect(problems(redis, { ...cluster, REDIS_SENTINELS: '127.0.0.1:26379', REDIS_SENTINEL_NAME: 'mailway' })).toEqual(['invalid configuration: REDIS_CLUSTER_NODES="127.0.0.1:7000,127.0.0.1:7001" (redis.clusterNodes): set REDIS_CLUSTER_NODES or REDIS_SENTINELS, not both']);
    expect(problems(redis, { ...cluster, REDIS_WAIT_REPLICAS: '1' })).toEqual([
      'invalid configuration: REDIS_WAIT_REPLICAS="1" (redis.waitReplicas): not supported with REDIS_CLUSTER_NODES: a cluster acknowledges on the shard that holds the key',
    ]);
  });
});
