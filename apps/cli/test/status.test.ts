/**
 * `mailway status` and `mailway stop` against a running `mailway start`: status reads the run
 * file, asks each agent's /readyz and summarises the queue; a second start on the same state
 * folder is refused; stop ends the stack the way Ctrl-C does and waits for it, after which status
 * says it is not running (exit 3) and the run file is gone.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Stack, startStack } from './support/stack.js';
import { type CliResult, mailwayWith } from './support/cli.js';

let stack: Stack;
let mailway: (...args: string[]) => Promise<CliResult>;

beforeAll(async () => {
  stack = await startStack();
  mailway = mailwayWith(stack.env);
}, 120_000);

afterAll(async () => {
  await stack?.close();
});

it('status: every agent ready, and the queue', async () => {
  const text = await mailway('status');
  expect(text.code).toBe(0);
  for (const name of ['submission', 'relay', 'delivery']) expect(text.stdout).toMatch(new RegExp(`^  ${name}\\s+ready\\s+http://127\\.0\\.0\\.1:\\d+$`, 'm'));
  expect(text.stdout).toMatch(/^ {2}queue {7}0 messages; recipients queued 0, active 0, deferred 0, held 0, failed 0$/m);

  const json = await mailway('status', '--json');
  const parsed = JSON.parse(json.stdout) as { running: boolean; pid: number; agents: { name: string; state: string; address: string }[]; queue: { messages: number } };
  expect(parsed.running).toBe(true);
  expect(parsed.pid).toBe(stack.process.pid);
  expect(parsed.agents.map((a) => [a.name, a.state, a.address])).toEqual([
    ['submission', 'ready', `http://127.0.0.1:${stack.env.SUBMISSION_HTTP_PORT}`],
    ['relay', 'ready', `http://127.0.0.1:${stack.env.RELAY_HTTP_PORT}`],
    ['delivery', 'ready', `http://127.0.0.1:${stack.env.DELIVERY_HTTP_PORT}`],
  ]);
  expect(parsed.queue.messages).toBe(0);
}, 60_000);

it('a second start on the same state folder is refused while the first runs', async () => {
  const second = await mailway('start');
  expect(second.code).toBe(1);
  expect(second.stderr).toContain(`already running in ${stack.home} (pid ${stack.process.pid}`);
}, 60_000);

it('stop: the stack stops cleanly and is waited for; status then says it is not running', async () => {
  const exited = new Promise<number | null>((resolve) => stack.process.once('exit', (code) => resolve(code)));
  const stopped = await mailway('stop');
  expect(stopped.code).toBe(0);
  expect(stopped.stderr).toContain('mailway stop: stopped');
  // The stack was gone by the time stop returned: its exit is already known.
  expect(await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 1_000))])).toBe(0);
  await expect(access(join(stack.home, 'mailway.run.json'))).rejects.toThrow();

  const after = await mailway('status');
  expect(after.code).toBe(3);
  expect(after.stdout).toContain('mailway is not running');
  const again = await mailway('stop');
  expect(again.code).toBe(1);
  expect(again.stderr).toContain('mailway is not running');
}, 120_000);
