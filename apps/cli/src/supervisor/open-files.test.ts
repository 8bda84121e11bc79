/**
 * How `mailway start` raises the agents' open-file limit: through prlimit up to the hard limit,
 * or a note saying how to do it by hand. The raised command is run for real and reads its own
 * limit back.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseOpenFileLimit } from '@mailway/runtime';
import { hasPrlimit, withRaisedOpenFiles } from './open-files.js';

const printLimits = { command: process.execPath, args: ['-e', "process.stdout.write(require('node:fs').readFileSync('/proc/self/limits', 'utf8'))"], cwd: '/' };

describe('withRaisedOpenFiles', () => {
  it('leaves an agent alone whose soft limit is already the hard one', () => {
    expect(withRaisedOpenFiles(printLimits, { soft: 4096, hard: 4096 }, true)).toEqual({ command: printLimits, note: null });
  });

  it('says how to raise the limit by hand when prlimit is missing, or the limit is unknown', () => {
    expect(withRaisedOpenFiles(printLimits, { soft: 1024, hard: 4096 }, false).note).toBe("prlimit not found: the agents keep this shell's open-file limit of 1024 (raise it with ulimit -n 4096 before mailway start)");
    expect(withRaisedOpenFiles(printLimits, null, true).note).toMatch(/unknown on this system/);
  });

  it.runIf(process.platform === 'linux' && hasPrlimit())('starts the agent through prlimit with the soft limit raised to the hard one', () => {
    const raised = withRaisedOpenFiles(printLimits, { soft: 256, hard: 4096 }, true);
    expect(raised.command.command).toBe('prlimit');
    const limits = parseOpenFileLimit(execFileSync(raised.command.command, raised.command.args, { encoding: 'utf8' }));
    expect(limits).toEqual({ soft: 4096, hard: 4096 });
  });
});
