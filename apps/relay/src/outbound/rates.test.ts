import { describe, expect, it } from 'vitest';
import { parseDestinationRates } from './rates.js';

describe('parseDestinationRates', () => {
  it('turns messages per second, minute or hour into the interval between them', () => {
    expect(parseDestinationRates(['Example.com=30/min', '[smarthost]=5/s', 'slow.test = 10 / h'])).toEqual(
      new Map([
        ['example.com', 2_000],
        ['[smarthost]', 200],
        ['slow.test', 360_000],
      ]),
    );
  });

  it.each(['example.com', 'example.com=0/min', 'example.com=5/day', '=5/s', 'example.com=1.5/s', 'example.com=5000/s'])('refuses %s', (entry) => {
    expect(() => parseDestinationRates([entry])).toThrow(/expected destination=count\/unit|faster than/);
  });
});
