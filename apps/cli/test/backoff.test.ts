/**
 * The supervisor's restart pauses: a first crash, or one after a stable run, is restarted in
 * 250 ms; quick crashes in a row double the pause up to 5 s and never beyond.
 */
import { describe, expect, it } from 'vitest';
import { firstRestartMs, maxRestartMs, restartDelay, stableAfterMs } from '../src/supervisor/backoff.js';

describe('restartDelay', () => {
  it.each([
    { previous: null, uptime: 0, delay: 250 },
    { previous: null, uptime: 3_600_000, delay: 250 },
    { previous: 250, uptime: 100, delay: 500 },
    { previous: 500, uptime: 100, delay: 1_000 },
    { previous: 2_000, uptime: 9_999, delay: 4_000 },
    { previous: 4_000, uptime: 100, delay: 5_000 },
    { previous: 5_000, uptime: 100, delay: 5_000 },
    { previous: 5_000, uptime: 10_000, delay: 250 },
  ])('after a pause of $previous ms and $uptime ms up: $delay ms', ({ previous, uptime, delay }) => {
    expect(restartDelay(previous, uptime)).toBe(delay);
  });

  it('keeps a crash loop to one start per 5 s at most, and one crash to well under the cap', () => {
    let pause: number | null = null;
    const pauses: number[] = [];
    for (let i = 0; i < 10; i += 1) pauses.push((pause = restartDelay(pause, 50)));
    expect(pauses).toEqual([250, 500, 1_000, 2_000, 4_000, 5_000, 5_000, 5_000, 5_000, 5_000]);
    expect(firstRestartMs).toBeLessThan(1_000);
    expect(maxRestartMs).toBeLessThanOrEqual(5_000);
    expect(stableAfterMs).toBeLessThan(60_000);
  });
});
