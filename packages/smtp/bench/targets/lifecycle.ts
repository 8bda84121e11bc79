/**
 * The process contract every bench target follows, so run.ts can drive any server the same way.
 *
 * Reads signals; emits JSON lines on stdout. Once listening a target prints `{"port":N}`. On
 * SIGUSR2 it runs a full garbage collection (when started with --expose-gc) and prints
 * `{"gc":true}`, so that memory is read after garbage is gone. On SIGTERM it closes and exits,
 * within a second even if the server would wait for sessions to end.
 */

/** Print a JSON line for run.ts. */
export function announce(value: object): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Install the signal handlers and announce the port. */
export function serveUntilTerminated(port: number, close: () => Promise<void> | void): void {
  process.on('SIGUSR2', () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    announce({ gc: gc !== undefined });
  });
  process.on('SIGTERM', () => {
    setTimeout(() => process.exit(0), 1000).unref();
    Promise.resolve()
      .then(close)
      .catch(() => undefined)
      .finally(() => process.exit(0));
  });
  announce({ port });
}
