/**
 * The protocol violations every Mailway listener (587, 465, 25, LMTP) must answer once and
 * close on, running nothing that came with them: each is a single write with commands behind
 * the offending line, so a server that reads on would run them.
 */
import { Dialog, type Reply } from './dialog.js';

export interface ViolationCase {
  readonly name: string;
  /** Sent in one write after the greeting and EHLO/LHLO. */
  readonly input: string;
  /** The one reply expected, as `code enhanced`. */
  readonly status: string;
  /** The kind the agent logs and counts. */
  readonly kind: 'bare-lf' | 'bare-cr' | 'forbidden-command';
}

const httpPost = [
  'POST / HTTP/1.1',
  'Host: mail.example:25',
  'Content-Type: text/plain',
  'Content-Length: 100',
  '',
  'MAIL FROM:<spam@evil.example>',
  'RCPT TO:<postmaster@example.org>',
  'DATA',
  'forged',
  '.',
  '',
].join('\r\n');

export const violationCases: readonly ViolationCase[] = [
  { name: 'NOOP\\nNOOP', input: 'NOOP\nNOOP\r\n', status: '500 5.5.2', kind: 'bare-lf' },
  { name: 'MAIL\\nRCPT', input: 'MAIL FROM:<a@example.org>\nRCPT TO:<c@example.org>\r\n', status: '500 5.5.2', kind: 'bare-lf' },
  { name: 'MAIL\\rRCPT', input: 'MAIL FROM:<a@example.org>\rRCPT TO:<c@example.org>\r\nNOOP\r\n', status: '500 5.5.2', kind: 'bare-cr' },
  { name: 'an HTTP POST carrying SMTP', input: httpPost, status: '554 5.7.0', kind: 'forbidden-command' },
];

/**
 * Opens a session on `port`, says `hello` (EHLO or LHLO), sends the case's input in one write
 * and returns every reply until the server closes.
 */
export async function provoke(port: number, input: string, options: { tls?: boolean; hello?: 'EHLO' | 'LHLO' } = {}): Promise<Reply[]> {
  const { dialog } = await Dialog.open(port, { tls: options.tls ?? false });
  const hello = await dialog.command(`${options.hello ?? 'EHLO'} client.example`);
  if (hello.code !== 250) throw new Error(`${options.hello ?? 'EHLO'} refused: ${hello.status} ${hello.text}`);
  dialog.write(input);
  const replies = await dialog.untilClosed();
  await dialog.close();
  return replies;
}

/** The agent's `mailway_protocol_violations_total` for `kind`, read from its metrics registry. */
export async function violationCount(registry: { metrics(): Promise<string> }, kind: string): Promise<number> {
  const series = `mailway_protocol_violations_total{`;
  const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(series) && l.includes(`kind="${kind}"`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}
