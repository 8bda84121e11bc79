import { describe, it, expect } from 'vitest';
import { formatDate, generateMessageId } from './ids.js';

describe('formatDate', () => {
  it.each([
    { iso: '2026-11-25T09:02:05Z', text: 'Wed, 25 Nov 2026 09:02:05 +0000' },
    { iso: '2000-01-01T00:00:00Z', text: 'Sat, 01 Jan 2000 00:00:00 +0000' },
    { iso: '2024-02-29T23:59:59Z', text: 'Thu, 29 Feb 2024 23:59:59 +0000' },
    { iso: '1999-12-31T12:34:56.999Z', text: 'Fri, 31 Dec 1999 12:34:56 +0000' },
  ])('utc $iso', ({ iso, text }) => {
    expect(formatDate(new Date(iso), 'utc')).toBe(text);
  });

  it.each([
    { tz: 'UTC', iso: '2026-11-25T09:02:05Z', text: 'Wed, 25 Nov 2026 09:02:05 +0000' },
    { tz: 'Asia/Kolkata', iso: '2026-11-25T20:00:00Z', text: 'Thu, 26 Nov 2026 01:30:00 +0530' },
    { tz: 'America/New_York', iso: '2026-11-25T03:00:00Z', text: 'Tue, 24 Nov 2026 22:00:00 -0500' },
    { tz: 'America/St_Johns', iso: '2026-07-01T12:00:00Z', text: 'Wed, 01 Jul 2026 09:30:00 -0230' },
  ])('local time in $tz', ({ tz, iso, text }) => {
    const saved = process.env.TZ;
    process.env.TZ = tz;
    try {
      expect(formatDate(new Date(iso))).toBe(text);
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });

  it('round-trips through Date.parse', () => {
    const date = new Date('2026-03-08T10:11:12Z');
    expect(Date.parse(formatDate(date))).toBe(date.getTime());
  });

  it('refuses an invalid date', () => {
    expect(() => formatDate(new Date(Number.NaN))).toThrow(RangeError);
  });
});

describe('generateMessageId', () => {
  it.each([
    { domain: 'example.org', ok: true },
    { domain: 'mx1.example.org', ok: true },
    { domain: '[192.0.2.1]', ok: true },
    { domain: '', ok: false },
    { domain: 'a b', ok: false },
    { domain: 'x>\r\nBcc: y', ok: false },
    { domain: 'a..b', ok: false },
    { domain: 'a@b', ok: false },
  ])('domain $domain', ({ domain, ok }) => {
    if (ok) expect(generateMessageId(domain)).toMatch(new RegExp(`^<[0-9a-z]+\\.[a-z2-7]{16}@${domain.replace(/[[\].]/g, '\\$&')}>$`));
    else expect(() => generateMessageId(domain)).toThrow(TypeError);
  });

  it('never repeats, even within one millisecond', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 20_000; i += 1) ids.add(generateMessageId('example.org'));
    expect(ids.size).toBe(20_000);
  });

  it('starts with the current time in base 36', () => {
    const before = Date.now();
    const id = generateMessageId('example.org');
    const time = Number.parseInt(id.slice(1, id.indexOf('.')), 36);
    expect(time).toBeGreaterThanOrEqual(before);
    expect(time).toBeLessThanOrEqual(Date.now());
  });
});
