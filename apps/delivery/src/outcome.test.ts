/**
 * The delivery agent's error policy, one row per failure kind: the outcome label, whether it
 * is retried, whether it is dropped rather than kept for a bounce, and the LMTP reply.
 */
import { describe, expect, it } from 'vitest';
import { MailboxLockedError, QuotaExceededError } from '@mailway/mailbox';
import { SpoolNotFoundError } from '@mailway/queue/spool';
import { LoopDetected, PermanentFailure, classify } from './outcome.js';

const loop = new LoopDetected(['a@example.org', 'b@example.org', 'a@example.org'], 'routing loop');

describe('classify', () => {
  it.each([
    // kind                  error                                                   sender                   outcome              permanent drop   reply
    ['unknown recipient', new PermanentFailure('unknown_recipient', 'no mailbox'), 'alice@remote.example', 'unknown_recipient', true, false, '550 5.1.1'],
    ['routing loop', loop, 'alice@remote.example', 'loop', true, false, '554 5.4.6'],
    ['routing loop of a bounce', loop, '', 'loop', true, true, '554 5.4.6'],
    ['other permanent failure', new PermanentFailure('failed', 'broken'), 'alice@remote.example', 'failed', true, false, '554 5.3.0'],
    ['over quota', new QuotaExceededError(900, 1000, 200), 'alice@remote.example', 'over_quota', false, false, '452 4.2.2'],
    ['content gone', new SpoolNotFoundError('X'), 'alice@remote.example', 'no_content', true, false, '554 5.3.0'],
    ['mailbox locked', new MailboxLockedError('/var/mail/x'), 'alice@remote.example', 'failed', false, false, '451 4.2.0'],
    ['anything else', new Error('EIO'), '', 'failed', false, false, '451 4.3.0'],
  ] as const)('%s', (_kind, error, sender, outcome, permanent, drop, reply) => {
    const failure = classify(error, sender);
    expect({ outcome: failure.outcome, permanent: failure.permanent, drop: failure.drop }).toEqual({ outcome, permanent, drop });
    expect(`${failure.verdict.reply?.code} ${failure.verdict.reply?.enhanced}`).toBe(reply);
    expect(failure.verdict.kind).toBe(permanent ? 'reject' : 'defer');
  });
});
