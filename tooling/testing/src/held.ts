/**
 * Something the tests of a file or block share (an agent, a DNS server): started before them,
 * closed after them, read through `current` inside them.
 */
import { afterAll, beforeAll } from 'vitest';

/** `start()`'s result for the tests of this file or block; `what` names it when it is read too early. */
export function heldForTests<T>(what: string, start: () => Promise<T>, close: (held: T) => Promise<void>): { readonly current: T } {
  let held: { readonly value: T } | undefined;
  beforeAll(async () => {
    held = { value: await start() };
  });
  afterAll(async () => {
    if (held !== undefined) await close(held.value);
  });
  return {
    get current() {
      if (held === undefined) throw new Error(`read inside a test: ${what} starts before them`);
      return held.value;
    },
  };
}
