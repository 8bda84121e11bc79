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
