/**
 * How long the supervisor waits before starting a process that exited: 250 ms after the first
 * crash, doubling with each crash that follows quickly (500 ms, 1 s, 2 s, 4 s), never more than
 * 5 s, and back to 250 ms once the process has stayed up for 10 s.
 *
 * Why these numbers. A mail port is down for the pause plus the time the process takes to start
 * (about a second for an agent, milliseconds for redis-server), so one crash costs well under two
 * seconds and even a run of crashes never more than 5 s each: SMTP clients retry after a 4xx or
 * a refused connection, but a port that stays shut for tens of seconds drops mail to the next
 * retry interval (minutes). A crash loop still cannot spin: at the cap a process is started at
 * most once every 5 s, a few percent of one core for a Node agent's start-up. Ten seconds up
 * counts as stable: long enough that a process failing at start-up (bad data, a port in use)
 * stays on the growing pause, short enough that unrelated crashes minutes apart each get the
 * quick restart.
 */

/** The pause before the first restart, and after a stable run. */
export const firstRestartMs = 250;
/** The longest pause. */
export const maxRestartMs = 5_000;
/** Uptime after which a crash counts as a first one again. */
export const stableAfterMs = 10_000;

/** The pause before restarting a process that ran `uptimeMs` after a pause of `previousMs` (null: never paused). */
export function restartDelay(previousMs: number | null, uptimeMs: number): number {
  if (previousMs === null || uptimeMs >= stableAfterMs) return firstRestartMs;
  return Math.min(previousMs * 2, maxRestartMs);
}
