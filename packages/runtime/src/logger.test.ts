import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

/** A destination that keeps every line written to it. */
function collector() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter((line) => line !== ''));
      done();
    },
  });
  return { stream, records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('createLogger', () => {
  it('writes one JSON line per record with agent, pid, level word, ISO time and msg', () => {
    const { stream, records } = collector();
    const logger = createLogger({ name: 'relay', level: 'info', destination: stream });
    logger.info({ messageId: 'abc@example.org' }, 'queued');
    logger.warn('slow peer');

    const [first, second] = records();
    expect(first).toEqual({ level: 'info', time: expect.any(String), agent: 'relay', pid: process.pid, messageId: 'abc@example.org', msg: 'queued' });
    expect(new Date(first?.['time'] as string).toISOString()).toBe(first?.['time']);
    expect(second).toMatchObject({ level: 'warn', agent: 'relay', msg: 'slow peer' });
  });

  it('drops records below the configured level', () => {
    const { stream, records } = collector();
    const logger = createLogger({ name: 'delivery', level: 'warn', destination: stream });
    logger.info('not written');
    logger.debug('not written either');
    logger.error(new Error('disk full'), 'delivery failed');

    expect(records()).toEqual([expect.objectContaining({ level: 'error', msg: 'delivery failed', err: expect.objectContaining({ message: 'disk full' }) })]);
  });
});
