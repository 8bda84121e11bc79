/**
 * The LMTP listener ends a session at a bare LF or CR in a command line and at an HTTP
 * request: one reply, a close, nothing that came with it run or delivered, and a count for
 * the operator.
 */
import { readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { agentForTests } from '@mailway/testing/agent';
import { provoke, violationCases, violationCount } from '@mailway/testing/violations';
import { startDelivery } from './support/harness.js';

const agent = agentForTests(() => startDelivery());

describe('protocol violations on the LMTP port', () => {
  it.each(violationCases)('$name: one reply, a close, nothing delivered', async ({ input, status, kind }) => {
    const h = agent.current;
    const before = await violationCount(h.metrics.registry, kind);
    const replies = await provoke(h.agent.lmtpPort ?? 0, input, { hello: 'LHLO' });
    expect(replies.map((r) => r.status)).toEqual([status]);
    expect(await violationCount(h.metrics.registry, kind)).toBe(before + 1);
    expect(await readdir(h.root)).toEqual([]);
  });
});
