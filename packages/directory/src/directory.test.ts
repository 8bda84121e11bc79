import { describe, it, expect } from 'vitest';
import { directoryFactory, testRedis } from '../test/fixture.js';
import { createDirectory } from './directory.js';
import { DirectoryError } from './errors.js';
import { directoryKeys } from './keys.js';
import { verifyPassword } from './password.js';

const newDirectory = directoryFactory();
const { redis, prefix } = testRedis();

describe('domains', () => {
  it('adds (idempotently), lists, checks and removes local domains', async () => {
    const dir = newDirectory();
    await dir.addDomain('Example.ORG');
    await dir.addDomain('example.org');
    await dir.addDomain('bücher.example');
    expect(await dir.listDomains()).toEqual(['example.org', 'xn--bcher-kva.example']);
    expect(await dir.isLocalDomain('EXAMPLE.org')).toBe(true);
    expect(await dir.isLocalDomain('BÜCHER.example')).toBe(true);
    expect(await dir.isLocalDomain('example.net')).toBe(false);
    await dir.removeDomain('example.org');
    expect(await dir.listDomains()).toEqual(['xn--bcher-kva.example']);
  });

  it('refuses to remove a domain that is not local or still has users or aliases', async () => {
    const dir = newDirectory();
    await dir.addDomain('example.org');
    await expect(dir.removeDomain('example.net')).rejects.toThrow('example.net is not a local domain');

    await dir.addUser('alice@example.org', 'pw');
    await expect(dir.removeDomain('example.org')).rejects.toThrow('example.org still has users');
    await dir.removeUser('alice@example.org');

    await dir.addAlias('postmaster@example.org', ['root@example.net']);
    await expect(dir.removeDomain('example.org')).rejects.toThrow('example.org still has aliases');
    await dir.removeAlias('postmaster@example.org');

    await dir.setCatchAll('example.org', 'root@example.net');
    await dir.removeDomain('example.org');
    expect(await dir.listDomains()).toEqual([]);
    // The catch-all went with the domain: adding the domain back does not revive it.
    await dir.addDomain('example.org');
    expect(await dir.resolve('nobody@example.org')).toEqual({ kind: 'unknown' });
  });

  it('rejects names that are not domains', async () => {
    const dir = newDirectory();
    await expect(dir.addDomain('not a domain')).rejects.toThrow(DirectoryError);
  });
});

describe('users', () => {
  it('creates, reads, lists and removes users', async () => {
    const dir = newDirectory();
    await dir.addDomain('example.org');
    await dir.addDomain('example.net');
    const before = Date.now();
    const alice = await dir.addUser('Alice@Example.org', 'pw-a', { sendAs: ['Sales@example.org', '@Example.net'], quotaBytes: 1_000_000 });
    expect(alice).toEqual({
      address: 'alice@example.org',
      sendAs: ['sales@example.org', '@example.net'],
      quotaBytes: 1_000_000,
      createdAt: expect.any(Date),
    });
    expect(alice.createdAt.getTime()).toBeGreaterThanOrEqual(before - 1000);
    await dir.addUser('bob@example.org', 'pw-b');
    await dir.addUser('carol@example.net', 'pw-c');

    expect(await dir.getUser('ALICE@example.ORG')).toEqual(alice);
    expect(await dir.getUser('bob@example.org')).toMatchObject({ sendAs: [], quotaBytes: null });
    expect(await dir.getUser('nobody@example.org')).toBeNull();
    expect((await dir.listUsers()).map((u) => u.address)).toEqual(['alice@example.org', 'bob@example.org', 'carol@example.net']);
    expect((await dir.listUsers('Example.NET')).map((u) => u.address)).toEqual(['carol@example.net']);

    await dir.removeUser('bob@example.org');
    expect(await dir.getUser('bob@example.org')).toBeNull();
    expect((await dir.listUsers('example.org')).map((u) => u.address)).toEqual(['alice@example.org']);
  });

  it('never stores the plaintext password', async () => {
    const dir = createDirectory(redis, { prefix });
    await dir.addDomain('example.org');
    await dir.addUser('alice@example.org', 'hunter2-secret');
    const fields = await redis.hgetall(directoryKeys(prefix).user('alice@example.org'));
    expect(Object.values(fields).join(' ')).not.toContain('hunter2-secret');
    expect(fields.hash).toMatch(/^\$scrypt\$/);
  });

  it('refuses bad requests with a DirectoryError that says why', async () => {
    const dir = newDirectory();
    await dir.addDomain('example.org');
    await dir.addUser('alice@example.org', 'pw');
    await dir.addAlias('info@example.org', ['alice@example.org']);

    const cases: [() => Promise<unknown>, string][] = [
      [() => dir.addUser('alice@EXAMPLE.org', 'pw'), 'user alice@example.org exists'],
      [() => dir.addUser('bob@example.net', 'pw'), 'example.net is not a local domain'],
      [() => dir.addUser('info@example.org', 'pw'), 'info@example.org is an alias'],
      [() => dir.addUser('bob@example.org', ''), 'empty password'],
      [() => dir.addUser('bob', 'pw'), 'not an address'],
      [() => dir.addUser('bob@example.org', 'pw', { quotaBytes: -1 }), 'bad quota'],
      [() => dir.addUser('bob@example.org', 'pw', { sendAs: ['@'] }), 'not a domain name'],
      [() => dir.setPassword('nobody@example.org', 'pw'), 'no user nobody@example.org'],
      [() => dir.removeUser('nobody@example.org'), 'no user nobody@example.org'],
      [() => dir.addSendAs('nobody@example.org', 'x@example.org'), 'no user nobody@example.org'],
      [() => dir.putUser('bob@example.org', {}), 'new user bob@example.org needs a password'],
      [() => dir.putUser('bob@example.org', { passwordHash: 'plain' }), 'not a supported password hash'],
    ];
    for (const [attempt, message] of cases) {
      const error = await attempt().then(
        () => null,
        (e: unknown) => e,
      );
      expect(error, message).toBeInstanceOf(DirectoryError);
      expect((error as Error).message).toContain(message);
    }
    expect((await dir.listUsers()).map((u) => u.address)).toEqual(['alice@example.org']);
  });

  it('changes passwords', async () => {
    const dir = newDirectory();
    await dir.addDomain('example.org');
    await dir.addUser('alice@example.org', 'old');
    await dir.setPassword('ALICE@example.org', 'new');
    expect(await dir.authenticate('alice@example.org', 'old')).toBeNull();
    expect(await dir.authenticate('alice@example.org', 'new')).toMatchObject({ address: 'alice@example.org' });
  });

  it('upserts with putUser, keeping createdAt and, without a hash, the password', async () => {
    const dir = newDirectory();
    await dir.addDomain('example.org');
    const first = await dir.addUser('alice@example.org', 'pw', { sendAs: ['a@example.org'], quotaBytes: 5 });
    const updated = await dir.putUser('alice@example.org', { sendAs: ['b@example.org'] });
    expect(updated).toEqual({ ...first, sendAs: ['b@example.org'], quotaBytes: null });
    expect(await dir.authenticate('alice@example.org', 'pw')).not.toBeNull();
  });

  it('adds and removes send-as entries without duplicates, also when concurrent', async () => {
    const dir = newDirectory();
    await dir.addDomain('example.org');
    await dir.addUser('alice@example.org', 'pw');
    await dir.addSendAs('alice@example.org', 'Sales@example.org');
    await dir.addSendAs('alice@example.org', 'sales@EXAMPLE.org');
    await dir.addSendAs('alice@example.org', '@example.com');
    expect((await dir.getUser('alice@example.org'))?.sendAs).toEqual(['sales@example.org', '@example.com']);
    await dir.removeSendAs('alice@example.org', 'SALES@example.org');
    await dir.removeSendAs('alice@example.org', 'never@example.org');
    expect((await dir.getUser('alice@example.org'))?.sendAs).toEqual(['@example.com']);

    // Concurrent additions each land: a lost update would drop some.
    const extra = ['a', 'b', 'c', 'd'].map((l) => `${l}@example.org`);
    await Promise.all(extra.map((a) => dir.addSendAs('alice@example.org', a)));
    expect([...((await dir.getUser('alice@example.org'))?.sendAs ?? [])].sort()).toEqual(['@example.com', ...extra]);
  });

  it('rejects a bad sub-address separator', () => {
    expect(() => createDirectory(redis, { subaddressSeparator: '' })).toThrow(DirectoryError);
    expect(() => createDirectory(redis, { subaddressSeparator: '@' })).toThrow(DirectoryError);
  });
});

describe('authenticate', () => {
  /** A directory whose password checks are recorded. */
  function counted() {
    const checked: string[] = [];
    const dir = newDirectory({
      verifyPassword: (password, encoded) => {
        checked.push(encoded);
        return verifyPassword(password, encoded);
      },
    });
    return { dir, checked };
  }

  it('accepts the right password, case-insensitively in the username', async () => {
    const { dir } = counted();
    await dir.addDomain('example.org');
    const alice = await dir.addUser('alice@example.org', 's3cret');
    expect(await dir.authenticate('alice@example.org', 's3cret')).toEqual(alice);
    expect(await dir.authenticate(' ALICE@Example.Org ', 's3cret')).toEqual(alice);
  });

  it('refuses a wrong password', async () => {
    const { dir, checked } = counted();
    await dir.addDomain('example.org');
    await dir.addUser('alice@example.org', 's3cret');
    expect(await dir.authenticate('alice@example.org', 'S3cret')).toBeNull();
    expect(await dir.authenticate('alice@example.org', '')).toBeNull();
    expect(checked).toHaveLength(2);
  });

  it('still runs a full hash check for an unknown user or a username that is no address', async () => {
    const { dir, checked } = counted();
    await dir.addDomain('example.org');
    await dir.addUser('alice@example.org', 's3cret');
    await dir.authenticate('alice@example.org', 's3cret');
    const [userHash] = checked;

    expect(await dir.authenticate('mallory@example.org', 's3cret')).toBeNull();
    expect(await dir.authenticate('mallory', 's3cret')).toBeNull();
    expect(checked).toHaveLength(3);
    // The stand-in hash costs what a real one does: same scheme and parameters.
    const params = (encoded: string | undefined) => encoded?.split('$').slice(0, 3).join('$');
    expect(params(checked[1])).toBe(params(userHash));
    expect(params(checked[2])).toBe(params(userHash));
    expect(checked[1]).not.toBe(userHash);
  });

  it('refuses a removed user', async () => {
    const { dir } = counted();
    await dir.addDomain('example.org');
    await dir.addUser('alice@example.org', 's3cret');
    await dir.removeUser('alice@example.org');
    expect(await dir.authenticate('alice@example.org', 's3cret')).toBeNull();
  });
});
