/**
 * withAvailability, as transcripts: before the store is reached every session is told 421 4.3.2
 * and closed; with the store away, RCPT is deferred with 451 4.3.0 (the session stays); with it
 * up, the application's own hooks answer.
 */
import { afterEach, describe, it } from 'vitest';
import { play } from '../../test/support/transcript.js';
import { startServer, type TestServer } from '../../test/support/server.js';
import { reject, withAvailability } from './index.js';

let current: TestServer | null = null;
afterEach(async () => {
  await current?.close();
  current = null;
});

/** A server whose RCPT hook refuses nobody@, behind a gate in the given state. */
async function converse(state: { open: boolean; up: boolean }, transcript: string): Promise<void> {
  const hooks = withAvailability(
    { onRcptTo: (_session, _tx, recipient) => (recipient.address.local === 'nobody' ? reject(550, '5.1.1', 'No such user here') : undefined) },
    { open: () => state.open, up: () => state.up },
    'mx.test',
  );
  current = await startServer({ hooks });
  await play(await current.connect(), transcript);
}

describe('withAvailability', () => {
  it('greets with 421 4.3.2 and closes until open', async () => {
    await converse({ open: false, up: false }, `
      S: 421 4.3.2 mx.test Service not available, try again later
      S: <closed>
    `);
  });

  it('defers RCPT with 451 4.3.0 while the store is away, and lets the hooks answer once it is back', async () => {
    const state = { open: true, up: false };
    const hooks = withAvailability({}, { open: () => state.open, up: () => state.up }, 'mx.test');
    current = await startServer({ hooks });
    const client = await current.connect();
    await play(client, `
      S: 220 mx.test ESMTP ready
      C: HELO client.test
      S: 250 mx.test
      C: MAIL FROM:<alice@example.org>
      S: 250 2.1.0 Sender OK
      C: RCPT TO:<bob@example.org>
      S: 451 4.3.0 Temporary local problem, try again later
    `);
    state.up = true;
    await play(client, `
      C: RCPT TO:<bob@example.org>
      S: 250 2.1.5 Recipient OK
    `);
  });

  it('leaves the answers to the hooks while the store is up', async () => {
    await converse({ open: true, up: true }, `
      S: 220 mx.test ESMTP ready
      C: HELO client.test
      S: 250 mx.test
      C: MAIL FROM:<alice@example.org>
      S: 250 2.1.0 Sender OK
      C: RCPT TO:<nobody@example.org>
      S: 550 5.1.1 No such user here
      C: RCPT TO:<bob@example.org>
      S: 250 2.1.5 Recipient OK
    `);
  });
});
