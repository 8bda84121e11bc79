import { describe, expect, it } from 'vitest';
import { authservIdOf, removeAuthResults } from './auth-results.js';

describe('authservIdOf', () => {
  it.each([
    ['mx.example.org; spf=pass', 'mx.example.org'],
    ['MX.Example.Org 1 ; none', 'mx.example.org'],
    ['(a (nested) comment) mx.example.org;spf=pass', 'mx.example.org'],
    ['mx.example.org(x)1; dkim=pass', 'mx.example.org'], // a comment separates the id from the version
    ['mx.example.org(\\)) ; none', 'mx.example.org'],
    ['"mx.example.org"; none', 'mx.example.org'],
    ['mx.example.org.evil; none', 'mx.example.org.evil'],
    ['mx.example.orgx; none', 'mx.example.orgx'],
    ['', ''],
  ])('of %j is %j', (value, id) => {
    expect(authservIdOf(value)).toBe(id);
  });
});

describe('removeAuthResults', () => {
  const block = (...lines: string[]): Buffer => Buffer.from(`${lines.join('')}\r\n`, 'latin1');

  it('removes every field claiming one of the ids, folded or not, and keeps every other byte', () => {
    const header = block(
      'Authentication-Results: MX1.Example.Org;\r\n\tdkim=pass header.i=@bank.example\r\n',
      'Received: from a by b; Thu, 3 Dec 2026 08:00:00 +0000\r\n',
      'authentication-results: mx2.example.org (x)1; spf=pass\r\n',
      'Authentication-Results: mx.elsewhere.example; spf=fail\r\n',
      'Subject: caf\xe9\r\n',
    );
    const { header: kept, removed } = removeAuthResults(header, ['mx1.example.org', 'MX2.example.org']);
    expect(removed).toBe(2);
    expect(kept.toString('latin1')).toBe('Received: from a by b; Thu, 3 Dec 2026 08:00:00 +0000\r\nAuthentication-Results: mx.elsewhere.example; spf=fail\r\nSubject: caf\xe9\r\n\r\n');
  });

  it('returns the same buffer when nothing claims the ids', () => {
    const header = block('Authentication-Results: mx.elsewhere.example; none\r\n', 'Subject: x\r\n');
    const result = removeAuthResults(header, ['mx1.example.org']);
    expect(result).toEqual({ header, removed: 0 });
    expect(result.header).toBe(header);
  });

  it('works on a view into a larger buffer (a header block cut off a message)', () => {
    const message = Buffer.from('Authentication-Results: mx1.example.org; none\r\nSubject: x\r\n\r\nbody\r\n');
    const header = message.subarray(0, message.indexOf('\r\n\r\n') + 4);
    expect(removeAuthResults(header, ['mx1.example.org']).header.toString()).toBe('Subject: x\r\n\r\n');
  });
});
