/**
 * The retry schedule, row by row: back-off from the message's age within its bounds, the last
 * attempt at the end of the lifetime, expiry, and the delay warning.
 */
import { describe, expect, it } from 'vitest';
import { type RetryPolicy, delayWarningDue, expiresAt, nextAttempt } from './schedule.js';

const s = 1_000;
const h = 3_600 * s;
const policy: RetryPolicy = { minBackoff: 300 * s, maxBackoff: 4_000 * s, lifetime: 120 * h, bounceLifetime: 24 * h, delayWarning: 4 * h };
const arrived = 1_000_000_000;

describe('nextAttempt', () => {
  it.each([
    ['the first failure, at once', 0, false, 300 * s],
    ['two minutes old: still the minimum', 120 * s, false, 300 * s],
    ['twenty minutes old: waits its age', 1_200 * s, false, 1_200 * s],
    ['a day old: the maximum', 24 * h, false, 4_000 * s],
    ['ten minutes before expiry: the last attempt at the end of the lifetime', 120 * h - 600 * s, false, 600 * s],
    ['a notification a day old is past its own lifetime', 24 * h, true, null],
    ['five days old', 120 * h, false, null],
    ['older still', 130 * h, false, null],
  ] as const)('%s', (_name, age, nullSender, delay) => {
    const step = nextAttempt(arrived, arrived + age, policy, nullSender);
    if (delay === null) expect(step).toEqual({ kind: 'expired' });
    else expect(step).toEqual({ kind: 'retry', delay, at: arrived + age + delay });
  });

  it('a clock that went backwards counts as age zero', () => {
    expect(nextAttempt(arrived, arrived - 10 * s, policy, false)).toEqual({ kind: 'retry', delay: 300 * s, at: arrived - 10 * s + 300 * s });
  });
});

describe('expiry and the delay warning', () => {
  it('expires after the lifetime, or the shorter one for notifications', () => {
    expect(expiresAt(arrived, policy, false)).toBe(arrived + 120 * h);
    expect(expiresAt(arrived, policy, true)).toBe(arrived + 24 * h);
  });

  it.each([
    ['three hours old', 3 * h, false, false, false],
    ['four hours old', 4 * h, false, false, true],
    ['already warned', 5 * h, false, true, false],
    ['a notification is never warned about', 5 * h, true, false, false],
  ] as const)('%s', (_name, age, nullSender, warned, due) => {
    expect(delayWarningDue(arrived, arrived + age, policy, nullSender, warned)).toBe(due);
  });

  it('a zero delay warning never warns', () => {
    expect(delayWarningDue(arrived, arrived + 100 * h, { ...policy, delayWarning: 0 }, false, false)).toBe(false);
  });
});
