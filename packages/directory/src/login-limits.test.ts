import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { testRedis } from '../test/fixture.js';
import { createDirectory } from './directory.js';
import { checkLogin, createAuthLimiter } from './login-limits.js';

const { redis, prefix } = testRedis();

/** A directory with alice, and a limiter, on a prefix of their own. */
async function setup(limits = { perIp: 10, perUser: 3, window: 60_000 }) {
  const own = `${prefix}${randomUUID()}:`;
  const directory = createDirectory(redis, { prefix: own });
  await directory.addDomain('example.org');
  await directory.addUser('alice@example.org', 'right');
  return { directory, limiter: createAuthLimiter(redis, own, limits) };
}
const attempt = (password: string, ip = '192.0.2.1') => ({ ip, username: 'alice@example.org', password, authzid: null });

describe('checkLogin under the failure limits', () => {
  it('bars the user after the allowed failures, even with the right password; other users stay free', async () => {
    const { directory, limiter } = await setup();
    for (let i = 0; i < 3; i += 1) expect((await checkLogin(directory, limiter, attempt(`wrong-${i}`))).kind).toBe('refused');
    expect(await checkLogin(directory, limiter, attempt('right'))).toEqual({ kind: 'limited', limit: 'user' });
    expect((await checkLogin(directory, limiter, { ...attempt('x'), username: 'bob@example.org' })).kind).toBe('refused');
  });

  it('many sessions of one host logging in at once are never barred for their successes', async () => {
    const { directory, limiter } = await setup({ perIp: 3, perUser: 3, window: 60_000 });
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => checkLogin(directory, limiter, attempt('right'))));
    expect(outcomes.every((o) => o.kind === 'accepted')).toBe(true);
  });

  it('a success clears the user count but not the IP count', async () => {
    const { directory, limiter } = await setup({ perIp: 3, perUser: 3, window: 60_000 });
    expect((await checkLogin(directory, limiter, attempt('wrong'))).kind).toBe('refused');
    expect((await checkLogin(directory, limiter, attempt('wrong'))).kind).toBe('refused');
    expect((await checkLogin(directory, limiter, attempt('right'))).kind).toBe('accepted');
    expect((await checkLogin(directory, limiter, attempt('wrong'))).kind).toBe('refused');
    expect(await checkLogin(directory, limiter, attempt('right'))).toEqual({ kind: 'limited', limit: 'ip' });
  });

  it('counts an IPv4 client the same whether or not the listener maps it into IPv6', async () => {
    const { directory, limiter } = await setup({ perIp: 2, perUser: 100, window: 60_000 });
    await checkLogin(directory, limiter, attempt('wrong', '198.51.100.7'));
    await checkLogin(directory, limiter, attempt('wrong', '::ffff:198.51.100.7'));
    expect(await checkLogin(directory, limiter, attempt('right', '198.51.100.7'))).toEqual({ kind: 'limited', limit: 'ip' });
  });

  it('refuses an authorization identity other than the user without checking the password', async () => {
    const { directory, limiter } = await setup();
    expect(await checkLogin(directory, limiter, { ...attempt('right'), authzid: 'bob@example.org' })).toEqual({ kind: 'refused', reason: 'authzid' });
  });
});
