import { describe, expect, it } from 'vitest';
import { nodeMatcher, parseHoldDomains, parsePullGrants } from './domains.js';

describe('held domains, ETRN nodes and ODMR grants', () => {
  const holds = parseHoldDomains(['Site.Test', '.branch.test']);

  it.each([
    ['site.test', true],
    ['mail.site.test', false],
    ['branch.test', false],
    ['a.branch.test', true],
    ['a.b.branch.test', true],
    ['xbranch.test', false],
    ['other.test', false],
  ])('%s held: %s', (domain, held) => {
    expect(holds.holds(domain)).toBe(held);
  });

  it.each([
    ['site.test', 'site.test', true],
    ['site.test', 'a.site.test', false],
    ['@site.test', 'site.test', true],
    ['@site.test', 'a.site.test', true],
    ['@site.test', 'asite.test', false],
    ['@Site.Test', 'b.site.test', true],
  ])('node %s names %s: %s', (node, domain, named) => {
    expect(nodeMatcher(node)(domain)).toBe(named);
  });

  it('reads grants, lower-case, merged per user; refuses bad ones naming them', () => {
    const grants = parsePullGrants(['Bob@Local.Example=site.test|a.branch.test', 'bob@local.example=x.branch.test'], holds);
    expect([...(grants.get('bob@local.example') ?? [])]).toEqual(['site.test', 'a.branch.test', 'x.branch.test']);
    expect(() => parsePullGrants(['=site.test'], holds)).toThrow(/not a grant: "=site.test"/);
    expect(() => parsePullGrants(['bob=other.test'], holds)).toThrow(/other\.test .* is not held/);
    expect(() => parseHoldDomains(['site.test', '-bad-.test'])).toThrow(/not a domain name: "-bad-.test"/);
    expect(parseHoldDomains([]).empty).toBe(true);
  });
});
