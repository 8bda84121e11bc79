import { describe, it, expect } from 'vitest';
import { z } from 'zod';
import { DeliveryJob, TransferJob } from './payloads.js';
import { jobSpecs } from './registry.js';

const origin = {
  agent: 'submission',
  client: { address: '192.0.2.7', port: 50123, helo: 'laptop.example.org' },
  user: 'alice',
  tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
  receivedAt: '2026-11-25T09:02:05.123Z',
};

const transfer = {
  queueId: '01KMZ3Q5V0ABCDEFGHJK',
  spoolId: '01KMZ3Q5V0ABCDEFGHJK',
  size: 1234,
  messageId: '<abc@example.org>',
  envelope: {
    from: 'alice@example.org',
    recipients: [
      { address: 'bob@example.net', notify: null, orcpt: null },
      { address: 'carol@example.net', notify: ['FAILURE', 'DELAY'], orcpt: { type: 'rfc822', address: 'carol@example.net' } },
    ],
    body: '8BITMIME',
    smtputf8: false,
    ret: null,
    envid: null,
    requireTls: false,
  },
  origin,
};

const delivery = {
  queueId: '01KMZ3Q5V0ABCDEFGHJK',
  spoolId: '01KMZ3Q5V0ABCDEFGHJK',
  size: 1234,
  messageId: null,
  from: '',
  recipient: { address: 'bob@example.org', notify: 'NEVER', orcpt: null },
  origin: { ...origin, agent: 'relay', client: null, user: null, tls: null },
};

// Edits deliberately break the payload's shape, so drafts are untyped.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Draft = any;

/** A deep copy of `base` with `edit` applied. */
function variant<T>(base: T, edit: (copy: Draft) => void): unknown {
  const copy = structuredClone(base);
  edit(copy);
  return copy;
}

/** The first issue's path as text, e.g. "envelope.recipients.0.address". */
function firstPath(schema: z.ZodType, value: unknown): string | null {
  const result = schema.safeParse(value);
  return result.success ? null : (result.error.issues[0]?.path.join('.') ?? '');
}

describe('TransferJob', () => {
  it.each([
    { name: 'the full example', value: transfer },
    { name: 'the null sender', value: variant(transfer, (t) => (t.envelope.from = '')) },
    { name: 'NOTIFY=NEVER', value: variant(transfer, (t) => (t.envelope.recipients[0].notify = 'NEVER')) },
    { name: 'all MAIL parameters', value: variant(transfer, (t) => Object.assign(t.envelope, { body: 'BINARYMIME', smtputf8: true, ret: 'HDRS', envid: 'QQ314159', requireTls: true })) },
    { name: 'locally generated mail', value: variant(transfer, (t) => Object.assign(t.origin, { client: null, user: null, tls: null })) },
    { name: 'an empty message', value: variant(transfer, (t) => (t.size = 0)) },
    { name: 'a loop guard (hops, visited aliases)', value: variant(transfer, (t) => Object.assign(t, { hops: 3, visited: ['a@example.org', 'b@example.org'] })) },
  ])('accepts $name', ({ value }) => {
    expect(TransferJob.parse(value)).toEqual(value);
  });

  it.each([
    { name: 'no recipients', edit: (t: Draft) => (t.envelope.recipients = []), path: 'envelope.recipients' },
    { name: 'an empty address', edit: (t: Draft) => (t.envelope.recipients[1].address = ''), path: 'envelope.recipients.1.address' },
    { name: 'an empty NOTIFY list', edit: (t: Draft) => (t.envelope.recipients[0].notify = []), path: 'envelope.recipients.0.notify' },
    { name: 'an unknown NOTIFY', edit: (t: Draft) => (t.envelope.recipients[0].notify = ['SOMETIMES']), path: 'envelope.recipients.0.notify' },
    { name: 'BODY=8BIT', edit: (t: Draft) => (t.envelope.body = '8BIT'), path: 'envelope.body' },
    { name: 'a missing smtputf8', edit: (t: Draft) => delete t.envelope.smtputf8, path: 'envelope.smtputf8' },
    { name: 'a bad queue id', edit: (t: Draft) => (t.queueId = 'x:1'), path: 'queueId' },
    { name: 'a negative size', edit: (t: Draft) => (t.size = -1), path: 'size' },
    { name: 'a fractional size', edit: (t: Draft) => (t.size = 1.5), path: 'size' },
    { name: 'an unknown agent', edit: (t: Draft) => (t.origin.agent = 'mua'), path: 'origin.agent' },
    { name: 'a fractional port', edit: (t: Draft) => (t.origin.client.port = 25.5), path: 'origin.client.port' },
    { name: 'a non-ISO receivedAt', edit: (t: Draft) => (t.origin.receivedAt = 'Wed, 25 Nov 2026 09:02:05 +0000'), path: 'origin.receivedAt' },
    { name: 'a body instead of a spool id', edit: (t: Draft) => delete t.spoolId, path: 'spoolId' },
    { name: 'a negative hop count', edit: (t: Draft) => (t.hops = -1), path: 'hops' },
    { name: 'an empty visited address', edit: (t: Draft) => (t.visited = ['']), path: 'visited.0' },
  ])('rejects $name at $path', ({ edit, path }) => {
    expect(firstPath(TransferJob, variant(transfer, edit))).toBe(path);
  });

  it('reports a readable message', () => {
    const result = TransferJob.safeParse(variant(transfer, (t) => (t.envelope.recipients = [])));
    expect(result.success).toBe(false);
    if (!result.success) expect(z.prettifyError(result.error)).toContain('envelope.recipients');
  });
});

describe('DeliveryJob', () => {
  it('accepts a bounce delivered locally', () => {
    expect(DeliveryJob.parse(delivery)).toEqual(delivery);
  });

  it('accepts a job from before the loop guard, and one with it', () => {
    expect(DeliveryJob.parse(delivery)).not.toHaveProperty('hops');
    const guarded = { ...delivery, hops: 51, visited: ['team@example.org'] };
    expect(DeliveryJob.parse(guarded)).toEqual(guarded);
  });

  it.each([
    { name: 'a recipient list instead of one recipient', edit: (d: Draft) => (d.recipient = [d.recipient]), path: 'recipient' },
    { name: 'a missing from', edit: (d: Draft) => delete d.from, path: 'from' },
    { name: 'a null ORCPT address', edit: (d: Draft) => (d.recipient.orcpt = { type: 'rfc822', address: null }), path: 'recipient.orcpt.address' },
  ])('rejects $name at $path', ({ edit, path }) => {
    expect(firstPath(DeliveryJob, variant(delivery, edit))).toBe(path);
  });
});

describe('jobSpecs', () => {
  it('derives each queue’s deterministic job id', () => {
    expect(jobSpecs.transfer.jobId(TransferJob.parse(transfer))).toBe('01KMZ3Q5V0ABCDEFGHJK');
    expect(jobSpecs.delivery.jobId(DeliveryJob.parse(delivery))).toMatch(/^01KMZ3Q5V0ABCDEFGHJK\.[0-9a-f]{16}$/);
  });
});
