/**
 * The submission ports (587 STARTTLS, 465 implicit TLS) end a session at a bare LF or CR in a
 * command line and at an HTTP request: one reply, a close, nothing that came with it run or
 * queued, and a count for the operator.
 */
import { describe, expect, it } from 'vitest';
import { agentForTests } from '@mailway/testing/agent';
import { provoke, violationCases, violationCount } from '@mailway/testing/violations';
import { startSubmission } from './support/harness.js';

const agent = agentForTests(() => startSubmission());

describe.each([
  ['587', false],
  ['465', true],
])('protocol violations on port %s', (_port, tls) => {
  it.each(violationCases)('$name: one reply, a close, nothing queued', async ({ input, status, kind }) => {
    const h = agent.current;
    const before = await violationCount(h.metrics.registry, kind);
    const replies = await provoke(tls ? h.agent.ports.implicitTls : h.agent.ports.starttls, input, { tls });
    expect(replies.map((r) => r.status)).toEqual([status]);
    expect(await h.jobs()).toEqual([]);
    expect(await violationCount(h.metrics.registry, kind)).toBe(before + 1);
  });
});
