/**
 * Port 25 ends a session at a bare LF or CR in a command line and at an HTTP request: one
 * reply, a close, nothing that came with it run or queued; a warning line and a count for the
 * operator.
 */
import { describe, expect, it } from 'vitest';
import { agentForTests } from '@mailway/testing/agent';
import { provoke, violationCases, violationCount } from '@mailway/testing/violations';
import { startRelay } from './support/harness.js';

const agent = agentForTests(() => startRelay());

describe('protocol violations on port 25', () => {
  it.each(violationCases)('$name: one reply, a close, nothing queued', async ({ input, status, kind }) => {
    const h = agent.current;
    const before = await violationCount(h.metrics.registry, kind);
    const replies = await provoke(h.agent.port, input);
    expect(replies.map((r) => r.status)).toEqual([status]);
    expect(await h.jobs('transfer')).toEqual([]);
    expect(await violationCount(h.metrics.registry, kind)).toBe(before + 1);
    expect(h.logs.filter((l) => l.msg === 'protocol violation; connection closed' && l.violation === kind).length).toBeGreaterThan(0);
  });
});
