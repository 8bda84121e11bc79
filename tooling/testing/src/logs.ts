/**
 * An agent's log lines, kept for a test to read: a stream to give the logger as its
 * destination, and every JSON line written to it, parsed, in order.
 */
import { Writable } from 'node:stream';

export function captureJsonLines(): { readonly destination: Writable; readonly logs: Record<string, unknown>[] } {
  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { destination, logs };
}
