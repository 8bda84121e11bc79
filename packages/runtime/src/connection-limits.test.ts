/**
 * From settings and an open-file limit to admission options: the derived and configured session
 * caps, the ConfigError naming the key when a cap cannot fit, the exempt networks, and what a
 * refusal leaves behind (a count per kind, a log line only for a client's first in its minute).
 * Also the parsing of /proc/self/limits, and the real file of this process.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@mailway/config';
import { type ConnectionLimitSettings, connectionLimits } from './connection-limits.js';
import { createLogger } from './logger.js';
import { createMetrics } from './metrics.js';
import { parseOpenFileLimit, readOpenFileLimit } from './open-files.js';

const defaults: ConnectionLimitSettings = { perClient: 50, perMinute: 100, maxSessions: 0, exempt: [] };

function limits(settings: Partial<ConnectionLimitSettings>, soft: number | null, extra: { listeners?: number; perSession?: number; alsoExempt?: string[] } = {}) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const metrics = createMetrics('relay');
  const refused = metrics.counter('relay_connections_refused_total', 'refused', ['limit']);
  const options = connectionLimits({
    prefix: 'RELAY',
    path: 'relay.connections',
    settings: { ...defaults, ...settings },
    listeners: extra.listeners ?? 1,
    perSession: extra.perSession ?? 1,
    reserve: 128,
    refused,
    logger: createLogger({ name: 'relay', level: 'info', destination }),
    openFiles: soft === null ? null : { soft, hard: soft * 4 },
    ...(extra.alsoExempt ? { alsoExempt: extra.alsoExempt } : {}),
  });
  return { options, lines, metrics };
}

describe('connectionLimits', () => {
  it.each([
    { soft: 1024, listeners: 1, perSession: 1, cap: 896 },
    { soft: 1024, listeners: 2, perSession: 1, cap: 448 },
    { soft: 1024, listeners: 1, perSession: 2, cap: 448 },
    { soft: 65536, listeners: 1, perSession: 1, cap: 65408 },
  ])('derives a cap of $cap from $soft open files, $listeners listener(s), $perSession descriptor(s) a session', ({ soft, listeners, perSession, cap }) => {
    const { options, lines } = limits({}, soft, { listeners, perSession });
    expect(options).toMatchObject({ maxSessions: cap, perClient: 50, perClientPerMinute: 100 });
    expect(lines[0]).toMatchObject({ msg: 'open-file limit read; session cap set below it', openFiles: { soft, hard: soft * 4 }, maxSessions: cap });
  });

  it('keeps a configured cap that fits, and sets no cap where the limit is unknown', () => {
    expect(limits({ maxSessions: 500 }, 1024).options.maxSessions).toBe(500);
    const unknown = limits({}, null);
    expect(unknown.options.maxSessions).toBeUndefined();
    expect(unknown.lines[0]).toMatchObject({ msg: 'open-file limit unknown; no session cap unless configured', openFiles: null, maxSessions: null });
  });

  it('switches a per-client limit off with 0', () => {
    const { options } = limits({ perClient: 0, perMinute: 0 }, 1024);
    expect(options.perClient).toBeUndefined();
    expect(options.perClientPerMinute).toBeUndefined();
  });

  it('refuses a cap that cannot fit, naming the key and what would', () => {
    const error = (() => {
      try {
        limits({ maxSessions: 1000 }, 1024);
      } catch (caught) {
        return caught;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(/^invalid configuration: relay\.connections\.maxSessions \(RELAY_MAX_SESSIONS\): .*at most 896/);
  });

  it('refuses a limit that leaves no room for sessions', () => {
    expect(() => limits({}, 100)).toThrow(/RELAY_MAX_SESSIONS.*leaves no room/);
  });

  it('refuses an exempt entry that is not a network, naming the key', () => {
    expect(() => limits({ exempt: ['10.0.0.0/40'] }, 1024)).toThrow(/relay\.connections\.exempt \(RELAY_LIMIT_EXEMPT\): "10\.0\.0\.0\/40" is not a network/);
  });

  it('exempts the configured networks and those the agent adds', () => {
    expect(limits({ exempt: ['192.0.2.0/24'] }, 1024, { alsoExempt: ['10.0.0.0/8'] }).options.exempt).toEqual(['192.0.2.0/24', '10.0.0.0/8']);
  });

  it('counts every refusal by kind and logs only a client’s first in its minute', async () => {
    const { options, lines, metrics } = limits({}, 1024);
    const refuse = (kind: 'client-sessions' | 'server-sessions', repeat: number): void => options.onRefuse?.({ kind, address: '::ffff:192.0.2.1', client: '192.0.2.1', limit: 50, repeat });
    refuse('client-sessions', 1);
    refuse('client-sessions', 2);
    refuse('server-sessions', 3);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/mailway_relay_connections_refused_total\{limit="client_sessions"[^}]*\} 2/);
    expect(text).toMatch(/mailway_relay_connections_refused_total\{limit="server_sessions"[^}]*\} 1/);
    const refusals = lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('connection refused'));
    expect(refusals).toEqual([expect.objectContaining({ level: 'warn', ip: '::ffff:192.0.2.1', client: '192.0.2.1', limit: 'client_sessions', max: 50 })]);
  });
});

describe('open-file limit', () => {
  it.each([
    { text: 'Max cpu time              unlimited            unlimited            seconds\nMax open files            1024                 524288               files\n', soft: 1024, hard: 524288 },
    { text: 'Max open files            unlimited            unlimited            files\n', soft: Infinity, hard: Infinity },
  ])('reads $soft/$hard from a limits table', ({ text, soft, hard }) => {
    expect(parseOpenFileLimit(text)).toEqual({ soft, hard });
  });

  it('is null where there is no such line or file', () => {
    expect(parseOpenFileLimit('Max processes 100 100 processes\n')).toBeNull();
    expect(readOpenFileLimit('/nonexistent/limits')).toBeNull();
  });

  it.runIf(process.platform === 'linux')('reads this process’s own limit', () => {
    const limit = readOpenFileLimit();
    expect(limit?.soft).toBeGreaterThan(0);
    expect(limit?.hard).toBeGreaterThanOrEqual(limit?.soft ?? Infinity);
  });
});
