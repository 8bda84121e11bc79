import { describe, expect, it } from 'vitest';
import type { Session } from '@mailway/smtp/server';
import { fixupFields } from './fixups.js';

const session = (tls: boolean): Session => ({
  id: 's1',
  remote: { address: '192.0.2.7', port: 50_000 },
  local: { address: '192.0.2.1', port: 587 },
  lmtp: false,
  tls: tls ? { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' } : null,
  helo: { verb: 'EHLO', name: 'laptop.example.org' },
  user: 'alice@example.org',
  transactions: 0,
  locals: {},
});

const base = {
  hostname: 'msa.example.org',
  queueId: '0ABCDEF123',
  recipients: ['carol@remote.example'],
  utf8: false,
  date: new Date('2026-11-25T10:00:00Z'),
  reversePath: 'alice@example.org',
};

describe('fixupFields', () => {
  it('adds only Received when the message is complete', () => {
    const { fields, messageId } = fixupFields({ ...base, session: session(true), has: { date: true, messageId: true, from: true } });
    expect(fields).toHaveLength(1);
    expect(messageId).toBeNull();
    expect(fields[0]).toMatch(/^Received: from laptop\.example\.org \(\[192\.0\.2\.7\]\)\r\n\t\(using TLSv1\.3 with cipher TLS_AES_256_GCM_SHA384\)/);
    expect(fields[0]).toContain('with ESMTPSA id 0ABCDEF123 for <carol@remote.example>;');
  });

  it('adds Date, Message-ID and From, in that order, when missing', () => {
    const { fields, messageId } = fixupFields({ ...base, session: session(false), has: { date: false, messageId: false, from: false } });
    expect(fields.map((f) => f.slice(0, f.indexOf(':')))).toEqual(['Received', 'Date', 'Message-ID', 'From']);
    expect(fields[0]).toContain('with ESMTPA');
    expect(fields[2]).toBe(`Message-ID: ${messageId}`);
    expect(fields[3]).toBe('From: <alice@example.org>');
  });

  it('records SMTPUTF8 and leaves out "for" with several recipients', () => {
    const { fields } = fixupFields({ ...base, utf8: true, recipients: ['a@x.example', 'b@x.example'], session: session(true), has: { date: true, messageId: true, from: true } });
    expect(fields[0]).toContain('with UTF8SMTPSA');
    expect(fields[0]).not.toContain(' for ');
  });
});
