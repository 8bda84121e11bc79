import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError } from '../load/error.js';
import { loadConfig } from '../load/load.js';
import { authFailureSettings } from './fragments.js';

const schema = z.object({ auth: authFailureSettings('AGENT') });

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
