/**
 * Polling for an outcome a test cannot be told about (a message in a mailbox, a job's state):
 * the probe is asked every 50 ms until it gives a value, or the time is up and the error says
 * what was awaited (and, from `explain`, what the system under test logged meanwhile).
 */
export interface WaitOptions {
  readonly timeoutMs?: number;
  /** More for the error message: a server's log, say. */
  readonly explain?: () => Promise<string> | string;
}

/** The probe's first value that is not null, undefined or false. */
export async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, options: WaitOptions = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      const more = options.explain === undefined ? '' : `\n${await options.explain()}`;
      throw new Error(`timed out waiting for ${what}${more}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
