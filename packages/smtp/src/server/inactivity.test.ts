/**
 * The inactivity clock: its period follows the shortest timeout within bounds, it never reports
 * more time than has passed, and it runs only while connections are watched.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { InactivityClock, type Watched } from './inactivity.js';

const watchers: Array<[InactivityClock, Watched]> = [];
afterEach(() => {
  for (const [clock, watcher] of watchers.splice(0)) clock.unwatch(watcher);
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('InactivityClock', () => {
  it('takes an eighth of the shortest timeout as its period, between 10 ms and 1 s', () => {
    expect(new InactivityClock([300_000, 300_000, 30_000]).periodMs).toBe(1000);
    expect(new InactivityClock([400, 200]).periodMs).toBe(25);
    expect(new InactivityClock([20]).periodMs).toBe(10);
    // A zero or negative timeout is not a timeout: it does not make the clock spin.
    expect(new InactivityClock([0, 4000]).periodMs).toBe(500);
  });

  it('never reports more time than has passed since a mark', async () => {
    const clock = new InactivityClock([80]);
    const seen: Array<{ reported: number; real: number }> = [];
    const startedAt = performance.now();
    let mark = -1;
    const watcher: Watched = {
      check(c) {
        if (mark === -1) mark = c.tick;
        seen.push({ reported: c.since(mark), real: performance.now() - startedAt });
      },
    };
    clock.watch(watcher);
    watchers.push([clock, watcher]);
    await sleep(200);
    expect(seen.length).toBeGreaterThan(5);
    for (const { reported, real } of seen) expect(reported).toBeLessThanOrEqual(real);
    // ... and it keeps counting: the last reading is past zero.
    expect(seen.at(-1)?.reported).toBeGreaterThan(0);
  });

  it('sweeps only while something is watched', async () => {
    const clock = new InactivityClock([80]);
    let checks = 0;
    const watcher: Watched = { check: () => void (checks += 1) };
    clock.watch(watcher);
    await sleep(60);
    clock.unwatch(watcher);
    const tickAtStop = clock.tick;
    expect(checks).toBeGreaterThan(0);
    await sleep(60);
    expect(clock.tick).toBe(tickAtStop);
  });
});
