/**
 * Waiting on a running stack: polls a probe until it gives a value, and on time-out names what
 * was awaited with the tail of the stack's output, which usually says why.
 */

/** The probe's value once it gives one (a throw counts as not yet); `output` is shown on time-out. */
export async function waitFor<T>(what: string, probe: () => Promise<T | null>, output: () => string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => null);
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stack output:\n${output().slice(-4000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
