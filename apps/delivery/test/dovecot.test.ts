/**
 * A Maildir written by the agent opens in Dovecot: an IMAP FETCH (Python's imaplib) returns
 * the same bytes the agent stored, and the +tag folder is a mailbox of its own.
 */
import { execFile } from 'node:child_process';
import { chmod, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dovecot, dovecotBinary, startDovecot } from '@mailway/testing/dovecot';
import { type Harness, message, startDelivery } from './support/harness.js';

const run = promisify(execFile);

describe.skipIf(dovecotBinary === null)('Dovecot reads what the agent wrote (skipped: dovecot is not installed; apt-get install dovecot-imapd)', () => {
  let h: Harness;
  let dovecot: Dovecot;
  beforeAll(async () => {
    h = await startDelivery();
    dovecot = await startDovecot(h.root);
  });
  afterAll(async () => {
    await dovecot?.stop();
    await h?.close();
  });

  it('IMAP FETCH returns the stored bytes, from the inbox and from a folder', async () => {
    const content = Buffer.concat([message('for dovecot'), Buffer.from('Caf\xc3\xa9\r\n.\r\nFrom here\r\n', 'latin1')]);
    const inbox = await h.enqueue(content, ['bob@example.org']);
    const folder = await h.enqueue(message('tagged'), ['bob+lists@example.org']);
    expect(await h.settle(inbox.jobIds[0]!)).toBe('completed');
    expect(await h.settle(folder.jobIds[0]!)).toBe('completed');

    await chmod(h.root, 0o755);
    await dovecot.adopt(join(h.root, 'example.org'));
    const script = `
import imaplib, sys
imap = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
imap.login('bob@example.org', 'secret')
for mailbox in ('INBOX', 'lists'):
    imap.select(mailbox, readonly=True)
    typ, data = imap.fetch('1', '(BODY.PEEK[])')
    sys.stdout.buffer.write(data[0][1].hex().encode() + b'\\n')
imap.logout()`;
    const { stdout } = await run('python3', ['-c', script, String(dovecot.port)]).catch(async (error: Error) => {
      throw new Error(`${error.message}\ndovecot log:\n${await dovecot.log()}`);
    });
    const [fromInbox, fromFolder] = stdout.trim().split('\n').map((hex) => Buffer.from(hex, 'hex'));
    const maildir = join(h.root, 'example.org', 'bob', 'Maildir');
    const stored = async (dir: string): Promise<Buffer> => {
      for (const sub of ['new', 'cur']) {
        const [name] = await readdir(join(dir, sub));
        if (name !== undefined) return readFile(join(dir, sub, name));
      }
      throw new Error(`no message in ${dir}`);
    };
    expect(fromInbox!.equals(await stored(maildir))).toBe(true);
    expect(fromFolder!.equals(await stored(join(maildir, '.lists')))).toBe(true);
    expect(fromInbox!.toString('latin1')).toContain('Delivered-To: bob@example.org\r\n');
  });
});
