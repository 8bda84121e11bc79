/**
 * DNS lists: the names asked (RFC 5782 §2.1, §2.4), what counts as a listing, the allow list
 * first, and answers kept for the cache time only. The lists here are a resolver function;
 * test/dmarc.test.ts asks real ones (dnsmasq).
 */
import { describe, expect, it } from 'vitest';
import { createLogger, createMetrics } from '@mailway/runtime';
import { createAuthenticationMetrics } from './metrics.js';
import { createDnsLists, reversedName } from './dns-lists.js';

describe('reversedName', () => {
  it('reverses IPv4 octets and IPv6 nibbles', () => {
    expect(reversedName('192.0.2.99')).toBe('99.2.0.192');
    expect(reversedName('2001:db8:1:2:3:4:567:89ab')).toBe('b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2');
    expect(reversedName('2001:db8::1')).toBe('1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2');
  });
});

describe('createDnsLists', () => {
  /** Lists answering from `answers` (name → A records, or an error code), counting the questions. */
  function lists(answers: Record<string, string[] | string>, now: () => number = Date.now) {
    const asked: string[] = [];
    const resolver = async (name: string): Promise<string[]> => {
      asked.push(name);
      const answer = answers[name];
      if (answer === undefined) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
      if (typeof answer === 'string') throw Object.assign(new Error(answer), { code: answer });
      return answer;
    };
    const metrics = createAuthenticationMetrics(createMetrics('relay'));
    return { asked, lists: createDnsLists({ blockZones: ['bl.test', 'bl2.test'], allowZones: ['wl.test'], cacheTime: 60_000 }, resolver, metrics, createLogger({ name: 'relay', level: 'silent' }), now) };
  }

  it('names the first block list, in the configured order, that lists the client', async () => {
    const { lists: l } = lists({ '2.2.0.192.bl2.test': ['127.0.0.2'], '2.2.0.192.bl.test': ['127.0.0.4'] });
    expect(await l.check('192.0.2.2')).toEqual({ kind: 'blocked', zone: 'bl.test' });
  });

  it('takes neither an answer outside 127/8 nor a 127.255.255.x error code as a listing, nor a failing list', async () => {
    const { lists: l } = lists({ '3.2.0.192.bl.test': ['10.0.0.1'], '3.2.0.192.bl2.test': ['127.255.255.254'], '4.2.0.192.bl.test': 'ESERVFAIL', '4.2.0.192.bl2.test': 'ETIMEOUT' });
    expect(await l.check('192.0.2.3')).toEqual({ kind: 'clear' });
    expect(await l.check('192.0.2.4')).toEqual({ kind: 'clear' });
  });

  it('asks the allow list first and then no block list', async () => {
    const { lists: l, asked } = lists({ '5.2.0.192.wl.test': ['127.0.10.2'], '5.2.0.192.bl.test': ['127.0.0.2'] });
    expect(await l.check('::ffff:192.0.2.5')).toEqual({ kind: 'allowed', zone: 'wl.test' });
    expect(asked).toEqual(['5.2.0.192.wl.test']);
  });

  it('keeps an answer for the cache time, then asks again', async () => {
    let clock = 0;
    const { lists: l, asked } = lists({ '6.2.0.192.bl.test': ['127.0.0.2'] }, () => clock);
    await l.check('192.0.2.6');
    await l.check('192.0.2.6');
    expect(asked.filter((n) => n.startsWith('6.2.0.192.bl.test'))).toHaveLength(1);
    clock = 60_001;
    await l.check('192.0.2.6');
    expect(asked.filter((n) => n.startsWith('6.2.0.192.bl.test'))).toHaveLength(2);
  });
});
