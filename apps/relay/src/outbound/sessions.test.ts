import { describe, expect, it } from 'vitest';
import { OutboundSessions } from './sessions.js';

describe('destination slots', () => {
  const sessions = (): OutboundSessions => new OutboundSessions({ perDestination: 2, idleTimeout: 0, maxAge: 1_000, maxMessages: 1 });

  it('grant up to the limit at once, then one per release in arrival order', async () => {
    const cache = sessions();
    const first = await cache.slot('dest.test');
    await cache.slot('dest.test');
    const granted: string[] = [];
    const third = cache.slot('dest.test').then((slot) => (granted.push('third'), slot));
    const fourth = cache.slot('dest.test').then((slot) => (granted.push('fourth'), slot));
    await new Promise((resolve) => setImmediate(resolve));
    expect(granted).toEqual([]);
    expect(cache.waiting('dest.test')).toBe(2);

    first.release();
    // Released twice by mistake: still only one slot passed on.
    first.release();
    await third;
    await new Promise((resolve) => setImmediate(resolve));
    expect(granted).toEqual(['third']);
    (await third).release();
    await fourth;
    expect(granted).toEqual(['third', 'fourth']);
    expect(cache.waiting('dest.test')).toBe(0);
  });

  it('are counted per destination', async () => {
    const cache = sessions();
    await cache.slot('a.test');
    await cache.slot('a.test');
    // Another destination is never held up by a busy one.
    await expect(Promise.race([cache.slot('b.test').then(() => 'granted'), new Promise((resolve) => setTimeout(() => resolve('waiting'), 50))])).resolves.toBe('granted');
  });
});

describe('adaptive concurrency', () => {
  const adaptive = (congestionMemory = 60_000): OutboundSessions =>
    new OutboundSessions({ perDestination: 10, limits: new Map([['small.test', 3]]), idleTimeout: 0, maxAge: 1_000, maxMessages: 1, initialConcurrency: 5, congestionMemory });

  it('starts at the initial window and gains one attempt at once per window of transactions, up to the limit', () => {
    const cache = adaptive();
    expect(cache.concurrency('dest.test')).toBe(5);
    // A named destination's own limit caps the start too.
    expect(cache.concurrency('small.test')).toBe(3);
    for (let i = 0; i < 4; i += 1) cache.feedback('dest.test', 'success');
    expect(cache.concurrency('dest.test')).toBe(5);
    expect(cache.feedback('dest.test', 'success')).toEqual({ before: 5, after: 6 });
    for (let i = 0; i < 200; i += 1) cache.feedback('dest.test', 'success');
    expect(cache.concurrency('dest.test')).toBe(10);
  });

  it('loses one per refusal, never below one, and stays below the level refused for a while', async () => {
    const cache = adaptive(100);
    expect(cache.feedback('dest.test', 'congestion')).toEqual({ before: 5, after: 4 });
    for (let i = 0; i < 50; i += 1) cache.feedback('dest.test', 'success');
    expect(cache.concurrency('dest.test')).toBe(4);
    for (let i = 0; i < 10; i += 1) cache.feedback('dest.test', 'congestion');
    expect(cache.concurrency('dest.test')).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 150));
    cache.feedback('dest.test', 'success');
    expect(cache.concurrency('dest.test')).toBe(2);
  });

  it('grants waiting attempts as the window widens, and holds back a slot given back while it is narrower', async () => {
    const cache = new OutboundSessions({ perDestination: 4, idleTimeout: 0, maxAge: 1_000, maxMessages: 1, initialConcurrency: 1 });
    const first = await cache.slot('dest.test');
    let second = false;
    const waiting = cache.slot('dest.test').then((slot) => ((second = true), slot));
    await new Promise((resolve) => setImmediate(resolve));
    expect(second).toBe(false);
    // One transaction done with a window of one: two at once from now on.
    cache.feedback('dest.test', 'success');
    (await waiting).release();
    expect(second).toBe(true);
    first.release();
    expect(cache.waiting('dest.test')).toBe(0);
  });

  it('is off without an initial window: the limit holds from the start', () => {
    const cache = new OutboundSessions({ perDestination: 7, idleTimeout: 0, maxAge: 1_000, maxMessages: 1 });
    expect(cache.concurrency('dest.test')).toBe(7);
    expect(cache.feedback('dest.test', 'congestion')).toEqual({ before: 7, after: 7 });
  });
});
