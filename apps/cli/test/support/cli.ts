/**
 * `mailway …` run from its sources as a separate process, the way an operator runs it: its
 * stdout, stderr and exit code, whatever the code (a refusal is something to assert, not a throw).
 */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const cliDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface CliResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

/** A `mailway` runner with `env` as its environment. */
export function mailwayWith(env: NodeJS.ProcessEnv): (...args: string[]) => Promise<CliResult> {
  return async (...args) => {
    try {
      const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', '--conditions=@mailway/source', 'src/main.ts', ...args], { cwd: cliDir, env });
      return { stdout, stderr, code: 0 };
    } catch (error) {
      const e = error as { stdout: string; stderr: string; code: number };
      return { stdout: e.stdout, stderr: e.stderr, code: e.code };
    }
  };
}
