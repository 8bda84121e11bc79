import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it, expect } from 'vitest';
import { directoryFactory, scanAll, testRedis } from '../test/fixture.js';
import { createDirectory } from './directory.js';
import { DirectoryError } from './errors.js';
import { directoryKeys } from './keys.js';
import { hashPassword } from './password.js';
import { applySeed, readSeedFile } from './seed.js';

const newDirectory = directoryFactory();
const { redis, prefix } = testRedis();
const dirPath = await mkdtemp(join(tmpdir(), 'mailway-directory-seed-'));
afterAll(() => rm(dirPath, { recursive: true, force: true }));

/** Write `content` (JSON-encoded unless a string) to a file of its own. */
async function seedFile(name: string, content: unknown): Promise<string> {
  const path = join(dirPath, name);
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

describe('seed files', () => {
  it('round trip: a file read and applied gives that directory, and applying again changes nothing', async () => {
    const bobHash = await hashPassword('bob-pw');
    const path = await seedFile('seed.json', {
      domains: ['Example.org', 'bücher.example'],
      users: [
        { address: 'alice@example.org', password: 'alice-pw', sendAs: ['@bücher.example'], quotaBytes: 1024 },
        { address: 'Bob@example.org', passwordHash: bobHash },
      ],
      aliases: { 'postmaster@example.org': ['alice@example.org'] },
      catchAll: { 'bücher.example': 'bob@example.org' },
    });
    const seed = await readSeedFile(path);
    const dir = createDirectory(redis, { prefix });
    await applySeed(dir, seed);

    expect(await dir.listDomains()).toEqual(['example.org', 'xn--bcher-kva.example']);
    expect(await dir.getUser('alice@example.org')).toMatchObject({ sendAs: ['@xn--bcher-kva.example'], quotaBytes: 1024 });
    expect(await dir.authenticate('alice@example.org', 'alice-pw')).not.toBeNull();
    expect(await dir.authenticate('bob@example.org', 'bob-pw')).not.toBeNull();
    expect(await dir.listAliases()).toEqual([{ source: 'postmaster@example.org', targets: ['alice@example.org'] }]);
    expect(await dir.resolve('any@bücher.example')).toEqual({ kind: 'alias', targets: ['bob@example.org'] });

    // Idempotent: a second run leaves every key as it was, password hashes included.
    const snapshot = await dumpKeys(prefix);
    await applySeed(dir, seed);
    expect(await dumpKeys(prefix)).toEqual(snapshot);
  });

  it('upserts: existing users take the seed password, send-as and quota; other entries stay', async () => {
    const dir = newDirectory();
    await dir.addDomain('example.org');
    const alice = await dir.addUser('alice@example.org', 'old-pw', { sendAs: ['x@example.org'], quotaBytes: 5 });
    await dir.addUser('keep@example.org', 'pw');

    await applySeed(dir, { domains: ['example.org'], users: [{ address: 'alice@example.org', password: 'new-pw' }] });
    expect(await dir.getUser('alice@example.org')).toEqual({ ...alice, sendAs: [], quotaBytes: null });
    expect(await dir.authenticate('alice@example.org', 'old-pw')).toBeNull();
    expect(await dir.authenticate('alice@example.org', 'new-pw')).not.toBeNull();
    expect(await dir.getUser('keep@example.org')).not.toBeNull();
  });

  it('refuses a seed whose users are outside its domains', async () => {
    const dir = newDirectory();
    await expect(applySeed(dir, { domains: [], users: [{ address: 'a@example.org', password: 'pw' }] })).rejects.toThrow(
      'example.org is not a local domain',
    );
  });

  it('names the file for a missing file and for bad JSON', async () => {
    const missing = join(dirPath, 'missing.json');
    await expect(readSeedFile(missing)).rejects.toThrow(`cannot read directory seed ${missing}`);
    const broken = await seedFile('broken.json', '{ "domains": [');
    await expect(readSeedFile(broken)).rejects.toThrow(`directory seed ${broken} is not JSON`);
  });

  const hash = '$scrypt$ln=14,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U';
  it.each([
    ['a missing key', { users: [] }, 'domains'],
    ['an unknown key', { domains: [], users: [], alias: {} }, '(top level)'],
    ['a bad domain', { domains: ['ok.example', 'not a domain'], users: [] }, 'domains[1]: not a domain name'],
    ['a bad address', { domains: [], users: [{ address: 'alice', password: 'pw' }] }, 'users[0].address: not an address'],
    ['both passwords', { domains: [], users: [{ address: 'a@b.example', password: 'pw', passwordHash: hash }] }, 'users[0]: give exactly one'],
    ['no password', { domains: [], users: [{ address: 'a@b.example' }] }, 'users[0]: give exactly one'],
    ['a bad hash', { domains: [], users: [{ address: 'a@b.example', passwordHash: 'plain' }] }, 'users[0].passwordHash: not a $scrypt$'],
    ['an unknown user key', { domains: [], users: [{ address: 'a@b.example', password: 'pw', quota: 1 }] }, 'users[0]'],
    ['a bad quota', { domains: [], users: [{ address: 'a@b.example', password: 'pw', quotaBytes: -5 }] }, 'users[0].quotaBytes'],
    ['a bad send-as', { domains: [], users: [{ address: 'a@b.example', password: 'pw', sendAs: ['@'] }] }, 'users[0].sendAs[0]'],
    ['a bad alias source', { domains: [], users: [], aliases: { nope: ['a@b.example'] } }, 'aliases'],
    ['a bad alias target', { domains: [], users: [], aliases: { 'x@b.example': ['nope'] } }, 'aliases.x@b.example[0]'],
    ['an empty alias', { domains: [], users: [], aliases: { 'x@b.example': [] } }, 'aliases.x@b.example'],
    ['a bad catch-all', { domains: [], users: [], catchAll: { 'b.example': 'nope' } }, 'catchAll.b.example'],
  ])('names the file and the key for %s', async (_what, content, key) => {
    const path = await seedFile(`bad-${Math.random().toString(36).slice(2)}.json`, content);
    const error = await readSeedFile(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DirectoryError);
    expect((error as Error).message).toContain(`directory seed ${path} is invalid`);
    expect((error as Error).message).toContain(key);
  });
});

/** Every key under `keyPrefix` with its value, for comparing whole directory states. */
async function dumpKeys(keyPrefix: string): Promise<Record<string, unknown>> {
  const keys = directoryKeys(keyPrefix);
  const names = await scanAll(redis, `${keyPrefix}*`);
  const state: Record<string, unknown> = {};
  for (const name of names.sort()) {
    const type = await redis.type(name);
    state[name] =
      type === 'hash' ? await redis.hgetall(name) : type === 'set' ? (await redis.smembers(name)).sort() : await redis.get(name);
  }
  expect(Object.keys(state)).toContain(keys.domains);
  return state;
}
