import { beforeAll, describe, it, expect } from 'vitest';
import { directoryFactory } from '../test/fixture.js';

const dir = directoryFactory()();

beforeAll(async () => {
  await dir.addDomain('example.org');
  await dir.addDomain('example.net');
  await dir.addUser('alice@example.org', 'pw', { sendAs: ['sales@example.org', '@example.com'] });
  await dir.addUser('bob@example.org', 'pw');
  await dir.addAlias('team@example.org', ['bob@example.org', 'alice@example.org']);
  await dir.addAlias('bobs@example.net', ['bob@example.org']);
  await dir.addAlias('outside@example.org', ['someone@example.com']);
});

describe('mayUseAddress', () => {
  it.each([
    // user, address, allowed
    ['alice@example.org', 'alice@example.org', true], //              own address
    ['alice@example.org', 'Alice@EXAMPLE.ORG', true], //              case
    ['ALICE@example.org', 'alice@example.org', true], //              case of the user
    ['alice@example.org', 'alice+news@example.org', true], //         own sub-address
    ['alice@example.org', 'sales@example.org', true], //              listed send-as
    ['alice@example.org', 'SALES+eu@example.org', true], //           sub-address of a listed one
    ['alice@example.org', 'anyone@example.com', true], //             @domain wildcard
    ['alice@example.org', 'anyone@EXAMPLE.COM', true], //             wildcard, case
    ['alice@example.org', 'anyone@sub.example.com', false], //        wildcard is one domain only
    ['alice@example.org', 'team@example.org', true], //               alias with the user among its targets
    ['bob@example.org', 'team+x@example.org', true], //               sub-address of such an alias
    ['bob@example.org', 'bobs@example.net', true], //                 alias in another local domain
    ['alice@example.org', 'bobs@example.net', false], //              alias of someone else
    ['alice@example.org', 'bob@example.org', false], //               someone else's address
    ['bob@example.org', 'sales@example.org', false], //               someone else's send-as
    ['bob@example.org', 'anyone@example.com', false], //              someone else's wildcard
    ['alice@example.org', 'outside@example.org', false], //           alias not pointing at the user
    ['alice@example.org', 'alicex@example.org', false], //            prefix is not a sub-address
    ['alice@example.org', 'alice@example.net', false], //             own local part, other domain
    ['alice@example.org', 'not an address', false], //                unparseable
    ['nobody@example.org', 'nobody@example.org', false], //           unknown user
  ])('%s as %s → %s', async (user, address, allowed) => {
    expect(await dir.mayUseAddress(user, address)).toBe(allowed);
  });
});
