/**
 * Conversation transcripts replayed through a live server on 127.0.0.1: the RFC 5321
 * command sequence, pipelining, parameters, limits and refusals, each with its exact reply.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { play } from '../../test/support/transcript.js';
import { startServer, type TestServer } from '../../test/support/server.js';
import { ehloReply, greetedAfterEhlo } from '../../test/support/ehlo.js';
import type { ServerOptions } from './index.js';
import { accept, defer, disconnect, reject } from './index.js';

let current: TestServer | null = null;

afterEach(async () => {
  await current?.close();
  current = null;
});

async function converse(transcript: string, options: ServerOptions = {}): Promise<TestServer> {
  current = await startServer(options);
  const client = await current.connect();
  await play(client, transcript);
  return current;
}

describe('SMTP session', () => {
  it('greets, answers EHLO with its extensions, accepts a message and says goodbye', async () => {
    const server = await converse(`
      ${greetedAfterEhlo()}
      C: MAIL FROM:<alice@example.org>
      S: 250 2.1.0 Sender OK
      C: RCPT TO:<bob@mx.test>
      S: 250 2.1.5 Recipient OK
      C: DATA
      S: 354 End data with <CR><LF>.<CR><LF>
      C: Subject: hi
      C:
      C: ..dot line
      C: .
      S: 250 2.0.0 Message accepted
      C: QUIT
      S: 221 2.0.0 mx.test closing connection
      S: <closed>
    `);
    expect(server.received).toHaveLength(1);
    expect(server.received[0]?.from).toBe('alice@example.org');
    expect(server.received[0]?.to).toEqual(['bob@mx.test']);
    expect(server.received[0]?.body.toString()).toBe('Subject: hi\r\n\r\n.dot line\r\n');
  });

  it('answers a pipelined group in order and keeps the session for a second transaction', async () => {
    const server = await converse(`
      ${greetedAfterEhlo()}
      C: MAIL FROM:<> BODY=8BITMIME
      C: RCPT TO:<a@mx.test>
      C: RCPT TO:<b@mx.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@mx.test
      C: DATA
      S: 250 2.1.0 Sender OK
      S: 250 2.1.5 Recipient OK
      S: 250 2.1.5 Recipient OK
      S: 354 End data with <CR><LF>.<CR><LF>
      C: one
      C: .
      C: MAIL FROM:<c@example.org>
      C: RCPT TO:<d@mx.test>
      C: DATA
      S: 250 2.0.0 Message accepted
      S: 250 2.1.0 Sender OK
      S: 250 2.1.5 Recipient OK
      S: 354 End data with <CR><LF>.<CR><LF>
      C: two
      C: .
      S: 250 2.0.0 Message accepted
    `);
    expect(server.received.map((m) => m.body.toString())).toEqual(['one\r\n', 'two\r\n']);
    expect(server.received[0]?.from).toBeNull();
  });

  it('accepts lower-case and mixed-case verbs', async () => {
    await converse(`
      S: 220 mx.test ESMTP ready
      C: helo client.test
      S: 250 mx.test
      C: mail from:<a@example.org>
      S: 250 2.1.0 Sender OK
      C: RcPt To:<b@mx.test>
      S: 250 2.1.5 Recipient OK
      C: noop
      S: 250 2.0.0 OK
    `);
  });

  it.each([
    ['MAIL before HELO', 'MAIL FROM:<a@example.org>', '503 5.5.1 Send EHLO/HELO first'],
    ['unknown verb', 'FOO bar', '500 5.5.1 Command not recognized'],
    ['EXPN is not offered', 'EXPN staff', '500 5.5.1 Command not recognized'],
    ['EHLO without a name', 'EHLO', '501 5.5.4 Syntax: EHLO hostname'],
    ['HELO with two words', 'HELO a b', '501 5.5.4 Syntax: HELO hostname'],
    ['VRFY without hook', 'VRFY bob', '252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery'],
    ['VRFY without argument', 'VRFY', '501 5.5.4 Syntax: VRFY user'],
    ['RSET with an argument', 'RSET now', '501 5.5.4 Syntax: RSET (no parameters)'],
    ['ETRN without hook', 'ETRN example.org', '502 5.5.1 Command not implemented'],
    ['AUTH without auth configured', 'AUTH PLAIN', '502 5.5.1 Command not implemented'],
    ['STARTTLS without TLS configured', 'STARTTLS', '502 5.5.1 Command not implemented'],
    ['NOOP with an argument', 'NOOP anything', '250 2.0.0 OK'],
  ])('%s', async (_name, command, expected) => {
    await converse(`
      S: 220 mx.test ESMTP ready
      C: ${command}
      S: ${expected}
    `);
  });

  it.each([
    ['RCPT before MAIL', '', 'RCPT TO:<b@mx.test>', '503 5.5.1 Need MAIL command'],
    ['DATA before MAIL', '', 'DATA', '503 5.5.1 Need MAIL command'],
    ['DATA with no recipient', 'MAIL FROM:<a@example.org>', 'DATA', '554 5.5.1 No valid recipients'],
    ['nested MAIL', 'MAIL FROM:<a@example.org>', 'MAIL FROM:<a@example.org>', '503 5.5.1 Nested MAIL command'],
    ['MAIL without colon', '', 'MAIL FROM <a@example.org>', '501 5.5.4 Syntax: MAIL FROM:<address> [parameters]'],
    ['RCPT without TO:', 'MAIL FROM:<a@example.org>', 'RCPT <b@mx.test>', '501 5.5.4 Syntax: RCPT TO:<address> [parameters]'],
    ['DATA with an argument', 'MAIL FROM:<a@example.org>', 'DATA now', '501 5.5.4 Syntax: DATA (no parameters)'],
    ['unknown MAIL parameter', '', 'MAIL FROM:<a@example.org> FOO=BAR', '555 5.5.4...'],
    ['declared SIZE over the limit', '', 'MAIL FROM:<a@example.org> SIZE=999999999', '552 5.3.4...'],
    ['REQUIRETLS without TLS', '', 'MAIL FROM:<a@example.org> REQUIRETLS', '555 5.5.4...'],
    ['null recipient', 'MAIL FROM:<a@example.org>', 'RCPT TO:<>', '501 5.1.3...'],
    ['UTF-8 address without SMTPUTF8', '', 'MAIL FROM:<jörg@example.org>', '553 5.6.7...'],
    ['BINARYMIME with DATA', 'MAIL FROM:<a@example.org> BODY=BINARYMIME\r\nRCPT TO:<b@mx.test>', 'DATA', '503 5.5.1 BODY=BINARYMIME requires BDAT'],
  ])('%s', async (_name, setup, command, expected) => {
    const setupLines = setup.length === 0 ? 0 : setup.split('\r\n').length;
    const expectedSetup = Array.from({ length: setupLines }, () => 'S: 2...').join('\n');
    await converse(`
      ${greetedAfterEhlo()}
      ${setup ? setup.split('\r\n').map((l) => `C: ${l}`).join('\n') : ''}
      ${expectedSetup}
      C: ${command}
      S: ${expected}
    `);
  });

  it('accepts an SMTPUTF8 address when SMTPUTF8 is given', async () => {
    const server = await converse(`
      ${greetedAfterEhlo()}
      C: MAIL FROM:<jörg@exämple.org> SMTPUTF8
      S: 250 2.1.0 Sender OK
      C: RCPT TO:<δοκιμή@mx.test>
      S: 250 2.1.5 Recipient OK
      C: DATA
      S: 354...
      C: x
      C: .
      S: 250 2.0.0 Message accepted
    `);
    expect(server.received[0]?.to).toEqual(['δοκιμή@mx.test']);
  });

  it('RSET drops the transaction but keeps the session', async () => {
    await converse(`
      ${greetedAfterEhlo()}
      C: MAIL FROM:<a@example.org>
      S: 250 2.1.0 Sender OK
      C: RSET
      S: 250 2.0.0 OK
      C: RCPT TO:<b@mx.test>
      S: 503 5.5.1 Need MAIL command
      C: MAIL FROM:<a@example.org>
      S: 250 2.1.0 Sender OK
    `);
  });

  it('refuses parameters after HELO (no service extensions)', async () => {
    await converse(`
      S: 220 mx.test ESMTP ready
      C: HELO client.test
      S: 250 mx.test
      C: MAIL FROM:<a@example.org> BODY=8BITMIME
      S: 555 5.5.4 Parameters need EHLO
    `);
  });

  it('limits recipients per transaction with 452 4.5.3', async () => {
    await converse(
      `
      ${greetedAfterEhlo()}
      C: MAIL FROM:<a@example.org>
      C: RCPT TO:<r1@mx.test>
      C: RCPT TO:<r2@mx.test>
      C: RCPT TO:<r3@mx.test>
      S: 250 2.1.0 Sender OK
      S: 250 2.1.5 Recipient OK
      S: 250 2.1.5 Recipient OK
      S: 452 4.5.3 Too many recipients
    `,
      { limits: { recipients: 2 } },
    );
  });

  it('rejects an oversized message after its data with 552 5.3.4 and stays in step', async () => {
    const server = await converse(
      `
      S: 220 mx.test ESMTP ready
      C: EHLO client.test
      S: 250-mx.test Hello client.test
      S: 250-PIPELINING
      S: 250-SIZE 1000
      S: 250-8BITMIME
      S: 250-SMTPUTF8
      S: 250-ENHANCEDSTATUSCODES
      S: 250-DSN
      S: 250-CHUNKING
      S: 250 BINARYMIME
      C: MAIL FROM:<a@example.org>
      C: RCPT TO:<b@mx.test>
      C: DATA
      S: 250 2.1.0 Sender OK
      S: 250 2.1.5 Recipient OK
      S: 354...
      C: ${'x'.repeat(600)}
      C: ${'y'.repeat(600)}
      C: .
      C: NOOP
      S: 552 5.3.4 Message size exceeds fixed maximum message size
      S: 250 2.0.0 OK
    `,
      { limits: { messageSize: 1000 } },
    );
    expect(server.received).toHaveLength(0);
  });

  it('refuses overlong command lines and recovers at the next line', async () => {
    await converse(`
      S: 220 mx.test ESMTP ready
      C: NOOP ${'x'.repeat(3000)}
      S: 500 5.5.2 Line too long
      C: NOOP
      S: 250 2.0.0 OK
    `);
  });

  it('refuses a bare LF in a command and closes the connection', async () => {
    await converse(`
      S: 220 mx.test ESMTP ready
      C: NOOP\\n<no-crlf>
      S: 500 5.5.2 Bare <LF> received; lines must end with <CR><LF>
      S: <closed>
    `);
  });

  it('refuses a bare CR in a command and closes the connection', async () => {
    await converse(`
      S: 220 mx.test ESMTP ready
      C: NO\\rOP
      S: 500 5.5.2 Bare <CR> received; lines must end with <CR><LF>
      S: <closed>
    `);
  });

  it('drops the connection after too many bad commands', async () => {
    await converse(
      `
      S: 220 mx.test ESMTP ready
      C: BAD1
      C: BAD2
      C: BAD3
      S: 500 5.5.1 Command not recognized
      S: 500 5.5.1 Command not recognized
      S: 500 5.5.1 Command not recognized
      S: 421 4.7.0 mx.test Too many errors, closing connection
      S: <closed>
    `,
      { limits: { badCommands: 3 } },
    );
  });

  it('drops the connection after too many commands without a transaction', async () => {
    await converse(
      `
      S: 220 mx.test ESMTP ready
      C: NOOP
      C: NOOP
      C: NOOP
      S: 250 2.0.0 OK
      S: 250 2.0.0 OK
      S: 421 4.7.0 mx.test Too many commands without a transaction
      S: <closed>
    `,
      { limits: { commandsWithoutMail: 2 } },
    );
  });

  it('answers HELP', async () => {
    await converse(`
      S: 220 mx.test ESMTP ready
      C: HELP
      S: 214-2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH ETRN
      S: 214 2.0.0 See RFC 5321
    `);
  });
});

/** A message whose data the onData hook refuses with 554 5.7.1; the session goes on. */
const refusedAfterData = `
      ${greetedAfterEhlo()}
      C: MAIL FROM:<a@example.org>
      C: RCPT TO:<b@mx.test>
      C: DATA
      S: 250 2.1.0 Sender OK
      S: 250 2.1.5 Recipient OK
      S: 354...
      C: line one
      C: line two
      C: .
      S: 554 5.7.1 Content refused
      C: NOOP
      S: 250 2.0.0 OK
    `;

describe('hooks and verdicts', () => {
  it('passes hook rejections, deferrals and custom acceptances to the client', async () => {
    await converse(
      `
      ${greetedAfterEhlo()}
      C: MAIL FROM:<spammer@bad.example>
      S: 550 5.7.1 Sender refused
      C: MAIL FROM:<a@example.org>
      S: 250 2.1.0 Sender OK
      C: RCPT TO:<nobody@mx.test>
      S: 550 5.1.1 No such user
      C: RCPT TO:<busy@mx.test>
      S: 450 4.2.0 Mailbox busy
      C: RCPT TO:<bob@mx.test>
      S: 250 2.1.5 Recipient OK
      C: DATA
      S: 354...
      C: x
      C: .
      S: 250 2.0.0 Queued as Q123
    `,
      {
        hooks: {
          onMailFrom: (_s, _t, from) => (from?.domain === 'bad.example' ? reject(550, '5.7.1', 'Sender refused') : undefined),
          onRcptTo: (_s, _t, r) =>
            r.address.local === 'nobody' ? reject(550, '5.1.1', 'No such user') : r.address.local === 'busy' ? defer(450, '4.2.0', 'Mailbox busy') : undefined,
          async onData(_s, _t, body) {
            for await (const _ of body);
            return accept('Queued as Q123');
          },
        },
      },
    );
  });

  it('turns a throwing hook into 451 4.3.0 and reports the error', async () => {
    const errors: Error[] = [];
    await converse(
      `
      ${greetedAfterEhlo()}
      C: MAIL FROM:<a@example.org>
      S: 451 4.3.0 Temporary local problem, try again later
    `,
      {
        onError: (e) => errors.push(e),
        hooks: {
          onMailFrom() {
            throw new Error('directory down');
          },
        },
      },
    );
    expect(errors.map((e) => e.message)).toEqual(['directory down']);
  });

  it('turns a rejecting hook into 451 4.3.0 and reports the error', async () => {
    const errors: Error[] = [];
    await converse(
      `
      ${greetedAfterEhlo()}
      C: MAIL FROM:<a@example.org>
      S: 250 2.1.0 Sender OK
      C: RCPT TO:<b@mx.test>
      S: 451 4.3.0 Temporary local problem, try again later
    `,
      {
        onError: (e) => errors.push(e),
        hooks: {
          onRcptTo: async () => {
            throw new Error('directory timed out');
          },
        },
      },
    );
    expect(errors.map((e) => e.message)).toEqual(['directory timed out']);
  });

  it('survives a hook that destroys the message stream with an error and never listens for it', async () => {
    await converse(refusedAfterData, {
      hooks: {
        onData: (_session, _transaction, body) => {
          body.destroy(new Error('not wanted'));
          return reject(554, '5.7.1', 'Content refused');
        },
      },
    });
  });

  it('answers the onData verdict only after end of data, even when the hook decides early', async () => {
    await converse(refusedAfterData, { hooks: { onData: () => reject(554, '5.7.1', 'Content refused') } });
  });

  it('refuses a connection from onConnect and disconnects on a disconnect verdict', async () => {
    await converse(`S: 554 5.7.1 Go away\nS: <closed>`, { hooks: { onConnect: () => reject(554, '5.7.1', 'Go away') } });
    await current?.close();
    await converse(
      `
      S: 220 mx.test ESMTP ready
      C: EHLO client.test
      S: 421 4.7.0 Too many connections
      S: <closed>
    `,
      { hooks: { onHelo: () => disconnect(421, '4.7.0', 'Too many connections') } },
    );
  });

  it('confirms VRFY and runs ETRN through their hooks', async () => {
    await converse(
      `
      ${greetedAfterEhlo('ETRN')}
      C: VRFY bob
      S: 250 2.1.5 Bob <bob@mx.test>
      C: ETRN example.org
      S: 250 2.0.0 Queuing for node example.org started
      C: ETRN bad node
      S: 501 5.5.4 Syntax: ETRN node
    `,
      {
        hooks: {
          onVrfy: () => accept('Bob <bob@mx.test>', 250, '2.1.5'),
          onEtrn: () => undefined,
        },
      },
    );
  });
});

describe('BDAT (RFC 3030)', () => {
  it('accepts chunked binary data byte-exactly, pipelined', async () => {
    const binary = Buffer.from([0, 1, 2, 13, 10, 46, 13, 10, 255, 10, 13]);
    current = await startServer();
    const client = await current.connect();
    await play(client, greetedAfterEhlo());
    client.write(
      Buffer.concat([
        Buffer.from('MAIL FROM:<a@example.org> BODY=BINARYMIME\r\nRCPT TO:<b@mx.test>\r\n'),
        Buffer.from(`BDAT ${binary.length}\r\n`),
        binary,
        Buffer.from('BDAT 3 LAST\r\nEND'),
        Buffer.from('NOOP\r\n'),
      ]),
    );
    await play(
      client,
      `
      S: 250 2.1.0 Sender OK
      S: 250 2.1.5 Recipient OK
      S: 250 2.0.0 11 octets received
      S: 250 2.0.0 Message accepted
      S: 250 2.0.0 OK
    `,
    );
    expect(current.received[0]?.body).toEqual(Buffer.concat([binary, Buffer.from('END')]));
  });

  it('accepts BDAT 0 LAST to end a message', async () => {
    const server = await converse(`
      ${greetedAfterEhlo()}
      C: MAIL FROM:<a@example.org>
      C: RCPT TO:<b@mx.test>
      C: BDAT 4
      C: ab
      C: BDAT 0 LAST
      S: 250 2.1.0 Sender OK
      S: 250 2.1.5 Recipient OK
      S: 250 2.0.0 4 octets received
      S: 250 2.0.0 Message accepted
    `);
    expect(server.received[0]?.body.toString()).toBe('ab\r\n');
  });

  it('consumes and refuses a chunk sent without a transaction', async () => {
    await converse(`
      ${greetedAfterEhlo()}
      C: BDAT 4 LAST
      C: NOOP<no-crlf>
      C: NOOP
      S: 503 5.5.1 Need MAIL command
      S: 250 2.0.0 OK
    `);
  });

  it('refuses DATA in the middle of a BDAT sequence', async () => {
    await converse(`
      ${greetedAfterEhlo()}
      C: MAIL FROM:<a@example.org>
      C: RCPT TO:<b@mx.test>
      C: BDAT 1
      C: x<no-crlf>
      C: DATA
      S: 250 2.1.0 Sender OK
      S: 250 2.1.5 Recipient OK
      S: 250 2.0.0 1 octets received
      S: 503 5.5.1 DATA not allowed during BDAT
    `);
  });
});

describe('LMTP (RFC 2033)', () => {
  it('answers LHLO and gives one reply per recipient after the data', async () => {
    await converse(
      `
      S: 220 mx.test LMTP ready
      C: EHLO client.test
      S: 500 5.5.1 Command not recognized
      C: LHLO client.test
      ${ehloReply()}
      C: MAIL FROM:<a@example.org>
      C: RCPT TO:<ok@mx.test>
      C: RCPT TO:<full@mx.test>
      C: RCPT TO:<gone@mx.test>
      C: DATA
      S: 250 2.1.0 Sender OK
      S: 250 2.1.5 Recipient OK
      S: 250 2.1.5 Recipient OK
      S: 550 5.1.1 No such user
      S: 354...
      C: hello
      C: .
      S: 250 2.0.0 Delivered to ok@mx.test
      S: 452 4.2.2 Mailbox full
    `,
      {
        lmtp: true,
        hooks: {
          onRcptTo: (_s, _t, r) => (r.address.local === 'gone' ? reject(550, '5.1.1', 'No such user') : undefined),
          async onData(_s, tx, body) {
            for await (const _ of body);
            return tx.recipients.map((r) =>
              r.address.local === 'full' ? defer(452, '4.2.2', 'Mailbox full') : accept(`Delivered to ${r.address.local}@${r.address.domain}`),
            );
          },
        },
      },
    );
  });
});
