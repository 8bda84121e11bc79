/**
 * Waiting for a server a test started as a process (smtp-sink, Dovecot) to accept connections:
 * a connection is tried every 25 ms until one succeeds, the process gives up, or time runs out.
 */
import { connect } from 'node:net';

export interface ListeningOptions {
  readonly host?: string;
  readonly timeoutMs?: number;
  /** Why the server cannot come up any more (its process exited), or null while it may. */
  readonly failed?: () => string | null;
}

/** Resolves once `host:port` accepts a connection. */
export async function untilListening(port: number, options: ListeningOptions = {}): Promise<void> {
  const host = options.host ?? '127.0.0.1';
  const deadline = Date.now() + (options.timeoutMs ?? 5_000);
  for (;;) {
    const problem = options.failed?.() ?? null;
    if (problem !== null) throw new Error(problem);
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect({ port, host });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (up) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${options.timeoutMs ?? 5_000} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
