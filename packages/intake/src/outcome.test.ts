import { describe, expect, it } from 'vitest';
import { ReplicaShortfallError } from '@mailway/queue/redis';
import { HeaderTooLargeError } from '@mailway/smtp/message';
import { intakeFailureOf, intakeOutcomes, queuedReply } from './outcome.js';

describe('the intake outcome table', () => {
  it.each([
    ['too_many_hops', 554, '5.4.6', 'too_many_hops'],
    ['header_too_large', 552, '5.3.4', 'message_invalid'],
    ['body_broken', 451, '4.3.0', null],
    ['not_replicated', 451, '4.3.0', 'replica_unavailable'],
    ['not_queued', 451, '4.3.0', 'queue_unavailable'],
  ] as const)('%s: %i %s, counted as %s', (failure, code, enhanced, reason) => {
    const outcome = intakeOutcomes[failure];
    expect(outcome.reply.reply).toMatchObject({ code, enhanced });
    expect(outcome.reason).toBe(reason);
  });

  it.each([
    ['a body that broke itself, whatever the error', new HeaderTooLargeError(2_000_000), true, 'body_broken'],
    ['a header block over the limit', new HeaderTooLargeError(2_000_000), false, 'header_too_large'],
    ['Redis refusing the hand-off', new Error('Connection is closed.'), false, 'not_queued'],
    ['replicas not confirming the hand-off', new ReplicaShortfallError(0, 1, 1000), false, 'not_replicated'],
    ['anything else', 'a string thrown', false, 'not_queued'],
  ] as const)('%s → %s', (_what, error, bodyErrored, failure) => {
    expect(intakeFailureOf(error, bodyErrored)).toBe(failure);
  });

  it('250 2.0.0 with the queue id once queued', () => {
    expect(queuedReply('01J0000000000000000000000')).toEqual({ kind: 'accept', reply: { code: 250, enhanced: '2.0.0', lines: ['Ok: queued as 01J0000000000000000000000'] } });
  });
});
