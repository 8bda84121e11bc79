import { beforeAll, describe, it, expect } from 'vitest';
import { directoryFactory } from '../test/fixture.js';
import { DirectoryError } from './errors.js';

const newDirectory = directoryFactory();
const dir = newDirectory();

beforeAll(async () => {
  await dir.addDomain('example.org');
  await dir.addDomain('catch.example');
  await dir.addDomain('bücher.example');
  await dir.addUser('alice@example.org', 'pw');
  await dir.addUser('bob+work@example.org', 'pw'); // a local part that contains the separator
  await dir.addUser('jörg@bücher.example', 'pw');
  await dir.addUser('carol@catch.example', 'pw');
  await dir.addUser('dave@example.org', 'pw', { quotaBytes: 5_000_000 });
  await dir.addAlias('postmaster@example.org', ['alice@example.org']);
  await dir.addAlias('team@example.org', ['alice@example.org', 'friend@example.net']);
  await dir.setCatchAll('catch.example', 'carol@catch.example');
});

describe('aliases', () => {
  it('lists aliases with normalised sources and targets', async () => {
    const d = newDirectory();
    await d.addDomain('example.org');
    await d.addAlias('Info@Example.ORG', ['A@example.NET', 'a@example.net', 'b@example.net']);
    await d.addAlias('abuse@example.org', ['root@example.org']);
    expect(await d.listAliases()).toEqual([
      { source: 'abuse@example.org', targets: ['root@example.org'] },
      { source: 'info@example.org', targets: ['a@example.net', 'b@example.net'] },
    ]);
    await d.addAlias('info@example.org', ['c@example.net']); // replaces
    await d.removeAlias('ABUSE@example.org');
    expect(await d.listAliases()).toEqual([{ source: 'info@example.org', targets: ['c@example.net'] }]);
  });

  it('refuses aliases outside local domains, over users, without targets, and unknown removals', async () => {
    const d = newDirectory();
    await d.addDomain('example.org');
    await d.addUser('alice@example.org', 'pw');
    await expect(d.addAlias('info@example.net', ['alice@example.org'])).rejects.toThrow('example.net is not a local domain');
    await expect(d.addAlias('alice@example.org', ['x@example.net'])).rejects.toThrow('alice@example.org is a user');
    await expect(d.addAlias('info@example.org', [])).rejects.toThrow('needs at least one target');
    await expect(d.addAlias('info@example.org', ['nonsense'])).rejects.toThrow(DirectoryError);
    await expect(d.removeAlias('info@example.org')).rejects.toThrow('no alias info@example.org');
    await expect(d.setCatchAll('example.net', 'alice@example.org')).rejects.toThrow('example.net is not a local domain');
    expect(await d.listAliases()).toEqual([]);
  });

  it('removes a catch-all with null', async () => {
    const d = newDirectory();
    await d.addDomain('example.org');
    await d.setCatchAll('example.org', 'x@example.net');
    expect(await d.resolve('who@example.org')).toEqual({ kind: 'alias', targets: ['x@example.net'] });
    await d.setCatchAll('example.org', null);
    expect(await d.resolve('who@example.org')).toEqual({ kind: 'unknown' });
  });
});

describe('resolve', () => {
  const user = (u: string, folder: string | null = null, quotaBytes: number | null = null) => ({ kind: 'user', user: u, folder, quotaBytes });
  const alias = (...targets: string[]) => ({ kind: 'alias', targets });

  it.each([
    ['alice@example.org', user('alice@example.org')], //                     user
    ['ALICE@Example.Org', user('alice@example.org')], //                     case
    ['alice+News@example.org', user('alice@example.org', 'news')], //        +tag → folder
    ['alice+lists.rust@example.org', user('alice@example.org', 'lists.rust')],
    ['alice+@example.org', user('alice@example.org', null)], //              empty tag → inbox
    ['alice+../cur@example.org', user('alice@example.org', null)], //        unsafe tag → inbox
    ['alice+a..b@example.org', user('alice@example.org', null)],
    ['bob+work@example.org', user('bob+work@example.org')], //               exact match wins over stripping
    ['bob+home@example.org', { kind: 'unknown' }], //                        `bob` itself is no user
    ['jörg+x@BÜCHER.example', user('jörg@xn--bcher-kva.example', 'x')], //   IDNA domain
    ['postmaster@example.org', alias('alice@example.org')], //               alias
    ['team@example.org', alias('alice@example.org', 'friend@example.net')],
    ['team+urgent@example.org', alias('alice@example.org', 'friend@example.net')], // alias via +tag
    ['carol@catch.example', user('carol@catch.example')], //                 a user beats the catch-all
    ['dave@example.org', user('dave@example.org', null, 5_000_000)], //     the user's quota comes along
    ['dave+x@example.org', user('dave@example.org', 'x', 5_000_000)],
    ['anything@catch.example', alias('carol@catch.example')], //             catch-all
    ['nobody@example.org', { kind: 'unknown' }], //                          unknown
    ['alice@example.net', { kind: 'remote' }], //                            remote
    ['alice@sub.example.org', { kind: 'remote' }],
  ])('%s → %j', async (address, expected) => {
    expect(await dir.resolve(address)).toEqual(expected);
  });

  it('honours a configured separator', async () => {
    const d = newDirectory({ subaddressSeparator: '-' });
    await d.addDomain('example.org');
    await d.addUser('alice@example.org', 'pw');
    expect(await d.resolve('alice-lists@example.org')).toEqual(user('alice@example.org', 'lists'));
    expect(await d.resolve('alice+lists@example.org')).toEqual({ kind: 'unknown' });
  });

  it('throws DirectoryError for something that is not an address', async () => {
    await expect(dir.resolve('alice')).rejects.toThrow(DirectoryError);
  });
});
