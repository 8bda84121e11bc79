/**
 * `mailway stop`: stops the stack of `mailway start` as Ctrl-C would (SIGTERM: the agents finish
 * their sessions and jobs, then Redis stops) and waits until it has. Exit 0 once stopped; 1 when
 * it is not running, or still runs after `--wait` (default 90 s: the agents' own grace is 60 s).
 */
import { parseArgs } from 'node:util';
import { parseDuration } from '@mailway/config';
import { stateDir } from '../local.js';
import { isAlive, readRunFile } from '../supervisor/run-file.js';

export const stopUsage = '  mailway stop [--wait <duration>]';

export async function stop(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({ args: [...args], options: { wait: { type: 'string', default: '90s' } } });
  const waitMs = parseDuration(values.wait);
  if (waitMs === undefined) {
    process.stderr.write(`mailway stop: --wait must be a duration (90s, 2m), not ${JSON.stringify(values.wait)}\n`);
    return 64;
  }
  const state = stateDir();
  const run = await readRunFile(state);
  if (run === null) {
    process.stderr.write(`mailway stop: mailway is not running (no live run file in ${state})\n`);
    return 1;
  }
  process.kill(run.pid, 'SIGTERM');
  process.stderr.write(`mailway stop: stopping pid ${run.pid} (agents finish what they are doing)\n`);
  const deadline = Date.now() + waitMs;
  while (isAlive(run.pid)) {
    if (Date.now() > deadline) {
      process.stderr.write(`mailway stop: pid ${run.pid} still runs after ${values.wait}\n`);
      return 1;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  process.stderr.write('mailway stop: stopped\n');
  return 0;
}
