import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { scanAll, testRedis } from '@mailway/testing/redis';
import { createDirectory, type DirectoryOptions, verifyPassword } from '@mailway/directory';
import { type AuthLimits, type LimitKind, checkLogin, createAuthLimiter } from './login-limits.js';

const { redis, prefix } = testRedis();

const hour = 3_600_000;
const limits: AuthLimits = { perIp: 4, perUserIp: 2, perUser: 3, window: 60_000, knownFor: 24 * hour };

/** A directory with alice, bob and carl (at an IDN domain), and a limiter with a clock the test moves, on a prefix of their own. */
async function setup(options: { limits?: AuthLimits; directory?: DirectoryOptions } = {}) {
  const own = `${prefix}${randomUUID()}:`;
  const directory = createDirectory(redis, { prefix: own, ...options.directory });
  await directory.addDomain('example.org');
  await directory.addDomain('bücher.example');
  for (const user of ['alice@example.org', 'bob@example.org', 'carl@bücher.example']) await directory.addUser(user, 'right');
  const clock = { now: Date.now() };
  const limiter = createAuthLimiter(redis, own, options.limits ?? limits, () => clock.now);
  return { own, directory, limiter, clock };
}

/** One step: a login (client, user, password) and what it must come to, or the clock moved on. */
type Step = readonly [ip: string, user: string, password: 'right' | 'wrong', expected: 'accepted' | 'refused' | LimitKind] | { readonly wait: number };

const alice = 'alice@example.org';
const bob = 'bob@example.org';
/** `n` wrong passwords for `user`, each from a client of its own (192.0.2.100 onwards), and what each must come to. */
const strangers = (user: string, n: number, expected: 'refused' | LimitKind = 'refused', first = 100): Step[] =>
  Array.from({ length: n }, (_, i) => [`192.0.2.${first + i}`, user, 'wrong', expected] as const);
/** Wrong passwords from client `ip` for users u1@example.org to u`n`@example.org, each refused. */
const userSweep = (ip: string, n: number): Step[] => Array.from({ length: n }, (_, i) => [ip, `u${i + 1}@example.org`, 'wrong', 'refused'] as const);

/** A password check that counts its calls, for a directory of `setup`. */
function countingChecks(): { readonly count: () => number; readonly verifyPassword: DirectoryOptions['verifyPassword'] } {
  let checks = 0;
  return {
    count: () => checks,
    async verifyPassword(password: string, encoded: string) {
      checks += 1;
      return verifyPassword(password, encoded);
    },
  };
}

/** Limits: 4 per client, 2 per (user, client), 3 per user from clients not known for it. */
const scenarios: { name: string; steps: Step[] }[] = [
  {
    name: 'a stranger who fails for a user from one client bars only that pair: the owner elsewhere, and other users there, go on',
    steps: [
      ['127.0.0.2', alice, 'wrong', 'refused'],
      ['127.0.0.2', alice, 'wrong', 'refused'],
      ['127.0.0.2', alice, 'right', 'user_ip'],
      ['127.0.0.3', alice, 'right', 'accepted'],
      ['127.0.0.2', bob, 'right', 'accepted'],
    ],
  },
  {
    name: 'failures spread over many clients bar the user only at clients it has not logged in from',
    steps: [
      ['127.0.0.3', alice, 'right', 'accepted'],
      ...strangers(alice, 3),
      ['127.0.0.3', alice, 'right', 'accepted'],
      ['127.0.0.4', alice, 'right', 'user'],
      ['192.0.2.200', alice, 'wrong', 'user'],
      // A known client's own mistakes still count, and still let the right password in.
      ['127.0.0.3', alice, 'wrong', 'refused'],
      ['127.0.0.3', alice, 'right', 'accepted'],
      ['127.0.0.4', bob, 'right', 'accepted'],
    ],
  },
  {
    name: 'the right password from a known client is never barred, however many strangers fail',
    steps: [
      ['127.0.0.3', alice, 'right', 'accepted'],
      ...strangers(alice, 3),
      // Past the user limit, strangers are refused unchecked.
      ...strangers(alice, 100, 'user', 103),
      ['127.0.0.3', alice, 'right', 'accepted'],
    ],
  },
  {
    name: 'a client that tries many users is barred for all of them',
    steps: [
      ...userSweep('127.0.0.2', 4),
      ['127.0.0.2', alice, 'right', 'ip'],
      ['127.0.0.3', alice, 'right', 'accepted'],
    ],
  },
  {
    name: 'an IPv6 client counts by its /64: new addresses from it are barred too, the next /64 is not',
    steps: [
      ['2001:db8:0:1::1', 'u1@example.org', 'wrong', 'refused'],
      ['2001:db8:0:1::2', 'u2@example.org', 'wrong', 'refused'],
      ['2001:db8:0:1:aaaa::3', 'u3@example.org', 'wrong', 'refused'],
      ['2001:db8:0:1:ffff:ffff:ffff:4', 'u4@example.org', 'wrong', 'refused'],
      ['2001:db8:0:1:1234::99', alice, 'right', 'ip'],
      ['2001:db8:0:2::1', alice, 'right', 'accepted'],
    ],
  },
  {
    name: 'an IPv6 /64 that failed for a user is barred for it from every address in the /64',
    steps: [
      ['2001:db8:0:1::1', alice, 'wrong', 'refused'],
      ['2001:db8:0:1::2', alice, 'wrong', 'refused'],
      ['2001:db8:0:1::3', alice, 'right', 'user_ip'],
    ],
  },
  {
    name: 'an IPv4 client counts the same whether or not the listener maps it into IPv6',
    steps: [
      ['198.51.100.7', alice, 'wrong', 'refused'],
      ['::ffff:198.51.100.7', alice, 'wrong', 'refused'],
      ['198.51.100.7', alice, 'right', 'user_ip'],
    ],
  },
  {
    name: 'every spelling of an address counts as one user',
    steps: [
      ['127.0.0.2', 'carl@bücher.example', 'wrong', 'refused'],
      ['127.0.0.2', 'carl@xn--bcher-kva.example', 'wrong', 'refused'],
      ['127.0.0.2', 'carl@bücher.example', 'right', 'user_ip'],
    ],
  },
  {
    name: 'a success clears the pair count; the client and user counts stay',
    steps: [
      ['127.0.0.3', alice, 'wrong', 'refused'],
      ['127.0.0.3', alice, 'right', 'accepted'],
      ['127.0.0.3', alice, 'wrong', 'refused'],
      ['127.0.0.3', alice, 'right', 'accepted'],
      // Alice's two failures count for the user: one stranger more reaches its limit.
      ['192.0.2.1', alice, 'wrong', 'refused'],
      ['127.0.0.4', alice, 'right', 'user'],
      // And the client's: two failures of alice's, one more makes four.
      ['127.0.0.3', bob, 'wrong', 'refused'],
      ['127.0.0.3', bob, 'wrong', 'refused'],
      ['127.0.0.3', bob, 'right', 'ip'],
    ],
  },
  {
    name: 'a success from a client not yet known gives back what its attempt was counted in advance',
    steps: [
      ['127.0.0.9', alice, 'right', 'accepted'],
      ['127.0.0.9', bob, 'right', 'accepted'],
      ['127.0.0.9', 'carl@bücher.example', 'right', 'accepted'],
      ...userSweep('127.0.0.9', 4),
      ['127.0.0.9', alice, 'right', 'ip'],
      ...strangers(alice, 2),
      ['127.0.0.8', alice, 'right', 'accepted'],
      ['127.0.0.7', alice, 'right', 'accepted'],
      ['127.0.0.6', alice, 'wrong', 'refused'],
      ['127.0.0.5', alice, 'right', 'user'],
    ],
  },
  {
    name: 'a client is forgotten a while after its last success, and each success renews it',
    steps: [
      ['127.0.0.3', alice, 'right', 'accepted'],
      ['127.0.0.5', alice, 'right', 'accepted'],
      { wait: 20 * hour },
      ['127.0.0.3', alice, 'right', 'accepted'],
      { wait: 5 * hour },
      ...strangers(alice, 3),
      ['127.0.0.3', alice, 'right', 'accepted'],
      ['127.0.0.5', alice, 'right', 'user'],
    ],
  },
];

describe('checkLogin under the failure limits', () => {
  it.each(scenarios)('$name', async ({ steps }) => {
    const { directory, limiter, clock } = await setup();
    for (const [index, step] of steps.entries()) {
      if ('wait' in step) {
        clock.now += step.wait;
        continue;
      }
      const [ip, username, password, expected] = step;
      const outcome = await checkLogin(directory, limiter, { ip, username, password, authzid: null });
      const got = outcome.kind === 'limited' ? outcome.limit : outcome.kind;
      expect(got, `step ${index + 1}: ${username} from ${ip}`).toBe(expected);
    }
  });

  it('a barred attempt never checks the password', async () => {
    const checks = countingChecks();
    const { directory, limiter } = await setup({ directory: { verifyPassword: checks.verifyPassword } });
    for (let i = 0; i < limits.perUserIp; i += 1) await checkLogin(directory, limiter, { ip: '127.0.0.2', username: alice, password: 'wrong', authzid: null });
    const before = checks.count();
    for (const password of ['wrong', 'right']) {
      expect(await checkLogin(directory, limiter, { ip: '127.0.0.2', username: alice, password, authzid: null })).toEqual({ kind: 'limited', limit: 'user_ip' });
    }
    expect(checks.count()).toBe(before);
  });

  it('names each limit once, on the failure that reaches it', async () => {
    const { directory, limiter } = await setup();
    const reached = [];
    for (let i = 0; i < 3; i += 1) {
      const outcome = await checkLogin(directory, limiter, { ip: `127.0.0.${10 + Math.min(i, 1)}`, username: alice, password: 'wrong', authzid: null });
      reached.push(outcome.kind === 'refused' ? outcome.reached : null);
    }
    // 127.0.0.10 once; 127.0.0.11 twice (its pair limit); the third failure is also the user's third.
    expect(reached).toEqual([[], [], ['user_ip', 'user']]);
  });

  it('every key expires, and none holds a username or a known client in clear', async () => {
    const { own, directory, limiter } = await setup();
    await checkLogin(directory, limiter, { ip: '2001:db8:0:1::7', username: alice, password: 'right', authzid: null });
    await checkLogin(directory, limiter, { ip: '2001:db8:0:1::7', username: alice, password: 'wrong', authzid: null });
    await checkLogin(directory, limiter, { ip: '198.51.100.7', username: 'Mallory <x@y>', password: 'wrong', authzid: null });
    const keys = (await scanAll(redis, `${own}auth*`)).sort();
    expect(keys.map((key) => key.slice(own.length).replace(/[0-9a-f]{32}/, 'HASH'))).toEqual([
      'authfail:ip:198.51.100.7',
      'authfail:ip:2001:db8:0:1::/64',
      'authfail:pair:HASH',
      'authfail:pair:HASH',
      'authfail:user:HASH',
      'authfail:user:HASH',
      'authknown:HASH',
    ]);
    for (const key of keys) {
      const ttl = await redis.pttl(key);
      expect(ttl, key).toBeGreaterThan(0);
      expect(ttl, key).toBeLessThanOrEqual(key.includes('authknown:') ? limits.knownFor : limits.window);
    }
    const known = await redis.zrange(keys.find((key) => key.includes('authknown:'))!, 0, -1);
    expect(known).toHaveLength(1);
    expect(known[0]).toMatch(/^[0-9a-f]{32}$/);
  });

  it('a success whose advance count has expired meanwhile leaves no count behind', async () => {
    const { own, limiter } = await setup();
    const admitted = await limiter.admit('127.0.0.2', alice);
    expect(admitted).toMatchObject({ kind: 'admitted', counted: [1, 1, 1] });
    if (admitted.kind !== 'admitted') return;
    const counters = await scanAll(redis, `${own}authfail:*`);
    expect(counters).toHaveLength(3);
    await redis.del(...counters);
    await limiter.succeeded(admitted);
    expect(await scanAll(redis, `${own}authfail:*`)).toEqual([]);
  });

  it('sessions of a known client logging in at once are never barred for their successes', async () => {
    const { directory, limiter } = await setup();
    const login = (username: string) => checkLogin(directory, limiter, { ip: '192.0.2.1', username, password: 'right', authzid: null });
    for (const user of [alice, bob]) expect((await login(user)).kind).toBe('accepted');
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => login(i % 2 === 0 ? alice : bob)));
    expect(outcomes.map((o) => o.kind)).toEqual(Array.from({ length: 20 }, () => 'accepted'));
  });

  it.each([
    { name: 'one client, one user', limit: 'user_ip', checked: limits.perUserIp, ip: () => '127.0.0.2', user: () => alice },
    { name: 'one client, many users', limit: 'ip', checked: limits.perIp, ip: () => '127.0.0.2', user: (i: number) => `u${i}@example.org` },
    { name: 'many clients, one user', limit: 'user', checked: limits.perUser, ip: (i: number) => `192.0.2.${i}`, user: () => alice },
  ] as const)('guesses sent at the same moment ($name) get no more password checks than the limit allows', async ({ limit, checked, ip, user }) => {
    const checks = countingChecks();
    const { directory, limiter } = await setup({ directory: { verifyPassword: checks.verifyPassword } });
    const outcomes = await Promise.all(Array.from({ length: 30 }, (_, i) => checkLogin(directory, limiter, { ip: ip(i), username: user(i), password: 'wrong', authzid: null })));
    const kinds = outcomes.map((o) => (o.kind === 'limited' ? o.limit : o.kind));
    expect(kinds.filter((k) => k === 'refused')).toHaveLength(checked);
    expect(kinds.filter((k) => k === limit)).toHaveLength(30 - checked);
    expect(checks.count()).toBe(checked);
    // The bar was announced once.
    expect(outcomes.flatMap((o) => (o.kind === 'refused' ? o.reached : [])).filter((k) => k === limit)).toEqual([limit]);
  });

  it('refuses an authorization identity other than the user without checking the password', async () => {
    const { directory, limiter } = await setup();
    expect(await checkLogin(directory, limiter, { ip: '192.0.2.1', username: alice, password: 'right', authzid: bob })).toEqual({ kind: 'refused', reason: 'authzid', reached: [] });
  });
});
