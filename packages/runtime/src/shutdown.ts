/**
 * Graceful-shutdown trigger: runs a cleanup once when the process gets SIGTERM or SIGINT.
 * While a listener is installed Node no longer exits on those signals by itself, so the
 * handler must end the process (or uninstall and let the next signal do it).
 */

const signals = ['SIGTERM', 'SIGINT'] as const;

export interface ShutdownOptions {
  /** Called for every further signal while the handler runs (e.g. to exit at once). */
  readonly onRepeat?: (signal: NodeJS.Signals) => void;
}

/**
 * Runs `handler` on the first SIGTERM or SIGINT; returns a function that uninstalls it.
 * A rejected handler surfaces as an unhandled rejection.
 */
export function onShutdown(handler: (signal: NodeJS.Signals) => Promise<void>, options: ShutdownOptions = {}): () => void {
  let started = false;
  const listener = (signal: NodeJS.Signals) => {
    if (started) return options.onRepeat?.(signal);
    started = true;
    void handler(signal);
  };
  for (const signal of signals) process.on(signal, listener);
  return () => {
    for (const signal of signals) process.off(signal, listener);
  };
}
