/**
 * The LMTP listener ends a session at a bare LF or CR in a command line and at an HTTP
 * request: one reply, a close, nothing that came with it run or delivered, and a count for
 * the operator.
 */
import { readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provoke, violationCases } from '@mailway/testing/violations';
import { type Harness, startDelivery } from './support/harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startDelivery();
});
afterAll(async () => {
  await h.close();
});

const series = (kind: string): RegExp => new RegExp(`^mailway_protocol_violations_total\\{.*kind="${kind}"`);
async function count(kind: string): Promise<number> {
  const line = (await h.metrics.registry.metrics()).split('\n').find((l) => series(kind).test(l));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('protocol violations on the LMTP port', () => {
  it.each(violationCases)('$name: one reply, a close, nothing delivered', async ({ input, status, kind }) => {
    const before = await count(kind);
    const replies = await provoke(h.agent.lmtpPort ?? 0, input, { hello: 'LHLO' });
    expect(replies.map((r) => r.status)).toEqual([status]);
    expect(await count(kind)).toBe(before + 1);
    expect(await readdir(h.root)).toEqual([]);
  });
});
