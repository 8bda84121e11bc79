/**
 * Alias cycles found before they are stored: direct, longer, through a sub-address and through
 * a catch-all; a target that merely shares a path, or leaves for another domain, is no cycle.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { directoryFactory } from '../test/fixture.js';

const dir = directoryFactory()();

beforeAll(async () => {
  await dir.addDomain('example.org');
  await dir.addDomain('catch.example');
  await dir.addUser('alice@example.org', 'pw');
  await dir.addAlias('a@example.org', ['b@example.org']);
  await dir.addAlias('b@example.org', ['c@example.org', 'alice@example.org']);
  await dir.addAlias('team@example.org', ['alice@example.org', 'friend@example.net']);
  await dir.addAlias('hub@catch.example', ['nobody@catch.example']);
  await dir.setCatchAll('catch.example', 'hub@catch.example');
});

describe('findAliasCycle', () => {
  it.each([
    ['a 2-cycle', 'b@example.org', ['a@example.org'], ['b@example.org', 'a@example.org', 'b@example.org']],
    ['a 3-cycle', 'c@example.org', ['A@Example.org'], ['c@example.org', 'a@example.org', 'b@example.org', 'c@example.org']],
    ['an alias to itself', 'team@example.org', ['team@example.org'], ['team@example.org', 'team@example.org']],
    ['through its own sub-address', 'x@example.org', ['x+tag@example.org'], ['x@example.org', 'x+tag@example.org']],
    ['through a catch-all', 'nobody@catch.example', ['hub@catch.example'], ['nobody@catch.example', 'hub@catch.example', 'nobody@catch.example']],
  ])('finds %s', async (_name, source, targets, path) => {
    expect(await dir.findAliasCycle(source, targets)).toEqual(path);
  });

  it.each([
    ['a shared target', 'c@example.org', ['alice@example.org', 'team@example.org']],
    ['a remote target', 'd@example.org', ['a@remote.example']],
    ['a chain that ends at a user', 'd@example.org', ['a@example.org']],
  ])('finds none for %s', async (_name, source, targets) => {
    expect(await dir.findAliasCycle(source, targets)).toBeNull();
  });
});
