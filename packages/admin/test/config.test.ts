/**
 * The admin settings at start-up: off without a port; with a port, a token is required (and a
 * short one refused), and the error names MAILWAY_ADMIN_TOKEN without ever printing its value.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, loadConfig } from '@mailway/config';
import { adminSettings } from '../src/index.js';

const load = (env: Record<string, string>) => loadConfig(z.object({ admin: adminSettings }), { env, file: null }).admin;

describe('admin settings', () => {
  it('are off by default and need no token then', () => {
    expect(load({})).toEqual({ host: '127.0.0.1', port: 0, token: undefined });
  });

  it('take a port with a token long enough', () => {
    expect(load({ MAILWAY_ADMIN_PORT: '8025', MAILWAY_ADMIN_TOKEN: 'a-long-enough-token' })).toMatchObject({ port: 8025, token: 'a-long-enough-token' });
  });

  it.each([
    ['a port without a token', { MAILWAY_ADMIN_PORT: '8025' }, /MAILWAY_ADMIN_TOKEN must be set when MAILWAY_ADMIN_PORT is/],
    ['a short token', { MAILWAY_ADMIN_PORT: '8025', MAILWAY_ADMIN_TOKEN: 'short-secret' }, /MAILWAY_ADMIN_TOKEN must be at least 16 characters/],
    ['a port that is not one', { MAILWAY_ADMIN_PORT: 'eighty', MAILWAY_ADMIN_TOKEN: 'a-long-enough-token' }, /MAILWAY_ADMIN_PORT/],
  ])('refuse %s, naming the key', (_what, env, message) => {
    let error: unknown;
    try {
      load(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(String((error as Error).message)).toMatch(message);
    expect(String((error as Error).message)).not.toContain('short-secret');
  });
});
