import { describe, it, expect } from 'vitest';
import { QueueId, deliveryJobId, newQueueId, outboundJobId, queueIdTime, transferJobId } from './ids.js';

describe('newQueueId', () => {
  it('is 20 Crockford base 32 characters that QueueId accepts', () => {
    const id = newQueueId();
    expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{20}$/);
    expect(QueueId.safeParse(id).success).toBe(true);
  });

  it('never repeats over 100k ids and sorts in creation order', () => {
    const ids = Array.from({ length: 100_000 }, () => newQueueId());
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });

  it('starts with the current time', () => {
    const before = Date.now();
    const time = queueIdTime(newQueueId()).getTime();
    expect(time).toBeGreaterThanOrEqual(before);
    expect(time).toBeLessThanOrEqual(Date.now() + 1);
  });

  it('sorts by time across milliseconds', async () => {
    const first = newQueueId();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = newQueueId();
    expect(queueIdTime(second).getTime()).toBeGreaterThan(queueIdTime(first).getTime());
    expect(first < second).toBe(true);
  });
});

describe('QueueId', () => {
  it.each([
    { id: '01KMZ3Q5V0ABCDEFGHJK', ok: true },
    { id: '7ZZZZZZZZZZZZZZZZZZZ', ok: true },
    { id: '01kmz3q5v0abcdefghjk', ok: false }, // lower case
    { id: '01KMZ3Q5V0ABCDEFGHJ', ok: false }, // 19 characters
    { id: '01KMZ3Q5V0ABCDEFGHJKL', ok: false }, // 21 characters
    { id: '01KMZ3Q5V0ABCDEFGHJI', ok: false }, // I is not Crockford
    { id: '81KMZ3Q5V0ABCDEFGHJK', ok: false }, // time beyond 48 bits
    { id: '01KMZ3Q5V0ABCDEF:HJK', ok: false },
    { id: '', ok: false },
  ])('$id → $ok', ({ id, ok }) => {
    expect(QueueId.safeParse(id).success).toBe(ok);
  });
});

describe('job ids', () => {
  const queueId = '01KMZ3Q5V0ABCDEFGHJK';

  it('transfer: the queue id itself', () => {
    expect(transferJobId(queueId)).toBe(queueId);
  });

  it.each([
    { a: 'bob@example.org', b: 'bob@example.org', same: true },
    { a: 'Bob@Example.ORG', b: 'bob@example.org', same: true },
    { a: 'bob@example.org', b: 'bob+tag@example.org', same: false },
    { a: 'bob@example.org', b: 'alice@example.org', same: false },
  ])('delivery: $a vs $b → same $same', ({ a, b, same }) => {
    const idA = deliveryJobId(queueId, a);
    expect(idA).toMatch(new RegExp(`^${queueId}\\.[0-9a-f]{16}$`));
    expect(idA === deliveryJobId(queueId, b)).toBe(same);
  });

  it('delivery: known value (sha256 of the lowercased address)', () => {
    // sha256("bob@example.org") = 686b5e4cf4f963adf8f51468a48028ef8d15bd02fa335f821279a3d1678c9615
    expect(deliveryJobId(queueId, 'BOB@example.org')).toBe(`${queueId}.686b5e4cf4f963ad`);
  });

  it('delivery: differs between messages', () => {
    expect(deliveryJobId(queueId, 'bob@example.org')).not.toBe(deliveryJobId('01KMZ3Q5V0ABCDEFGHJM', 'bob@example.org'));
  });

  it.each(['', 'abc', '01KMZ3Q5V0ABCDEFGHJK:1'])('refuses a bad queue id %j', (bad) => {
    expect(() => transferJobId(bad)).toThrow(TypeError);
    expect(() => deliveryJobId(bad, 'bob@example.org')).toThrow(TypeError);
  });

  it('never contains a colon', () => {
    expect(deliveryJobId(newQueueId(), 'a:b@[IPv6:::1]')).not.toContain(':');
  });
});

describe('derived job ids', () => {
  const queueId = newQueueId();

  it('gives a derived transfer job its own stable id, apart from the original', () => {
    expect(transferJobId(queueId, 'alias-job-1')).toBe(transferJobId(queueId, 'alias-job-1'));
    expect(transferJobId(queueId, 'alias-job-1')).not.toBe(transferJobId(queueId, 'alias-job-2'));
    expect(transferJobId(queueId, 'alias-job-1')).not.toBe(transferJobId(queueId));
    expect(transferJobId(queueId, 'alias-job-1')).toMatch(new RegExp(`^${queueId}\\.[0-9a-f]{16}$`));
  });

  it('gives one outbound job per transfer job and domain, whatever the case of the domain', () => {
    expect(outboundJobId(queueId, queueId, 'Example.ORG')).toBe(outboundJobId(queueId, queueId, 'example.org'));
    expect(outboundJobId(queueId, queueId, 'example.org')).not.toBe(outboundJobId(queueId, queueId, 'example.net'));
    expect(outboundJobId(queueId, queueId, 'example.org')).not.toBe(outboundJobId(queueId, `${queueId}.x`, 'example.org'));
    expect(outboundJobId(queueId, queueId, 'example.org')).not.toContain(':');
  });
});
