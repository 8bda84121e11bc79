import { UnrecoverableError } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { transferOutcome } from './outcome.js';

describe('the transfer outcome table', () => {
  it.each([
    ['content gone (unrecoverable), first run', new UnrecoverableError('spool entry X not found'), 0, 5, 'fail_and_park'],
    ['Redis away, first of five runs', new Error('Connection is closed.'), 0, 5, 'retry'],
    ['Redis away, fourth of five runs', new Error('Connection is closed.'), 3, 5, 'retry'],
    ['Redis away, the last run', new Error('Connection is closed.'), 4, 5, 'fail_and_park'],
    ['a job allowed one run', new Error('directory unavailable'), 0, 1, 'fail_and_park'],
  ] as const)('%s → %s', (_what, error, attemptsMade, attempts, outcome) => {
    expect(transferOutcome(error, attemptsMade, attempts)).toBe(outcome);
  });
});
