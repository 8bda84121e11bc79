/**
 * The transcript lines of a test server's EHLO reply (host mx.test, client client.test, default
 * options), so that a test names only what its options add after the extensions always offered.
 */

/** Offered by every test server, in the order it lists them. */
const always = ['PIPELINING', 'SIZE 26214400', '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES', 'DSN', 'CHUNKING', 'BINARYMIME'];

/** `S:` lines of the EHLO reply, `more` extensions after the ones always offered. */
export function ehloReply(...more: string[]): string {
  const lines = ['mx.test Hello client.test', ...always, ...more];
  return lines.map((line, i) => `S: 250${i === lines.length - 1 ? ' ' : '-'}${line}`).join('\n');
}

/** The greeting, the client's EHLO and the reply: how most conversations start. */
export function greetedAfterEhlo(...more: string[]): string {
  return `S: 220 mx.test ESMTP ready\nC: EHLO client.test\n${ehloReply(...more)}`;
}
