/**
 * Replays a conversation transcript against a live server. A transcript is text:
 *
 *   C: EHLO client.test        lines the client sends; consecutive C: lines go in one write
 *   S: 250-mx.test Hello ...   an expected server line; a trailing "..." matches a prefix
 *   S: <closed>                the server has closed the connection
 *   # comment                  ignored
 *
 * `\r` and `\n` inside C: lines are sent as raw CR and LF (for line-ending abuse); every C:
 * line otherwise ends with CRLF, unless it ends with `<no-crlf>`.
 */
import { expect } from 'vitest';
import type { RawClient } from './raw-client.js';

type Step = { kind: 'send'; data: string } | { kind: 'expect'; line: string };

function parse(transcript: string): Step[] {
  const steps: Step[] = [];
  for (const raw of transcript.split('\n')) {
    const line = raw.replace(/\r$/, '').replace(/^\s+/, '');
    if (line.length === 0 || line.startsWith('#')) continue;
    if (line.startsWith('C:')) {
      let data = line.slice(3).replace(/\\r/g, '\r').replace(/\\n/g, '\n');
      data = data.endsWith('<no-crlf>') ? data.slice(0, -'<no-crlf>'.length) : `${data}\r\n`;
      const last = steps[steps.length - 1];
      if (last?.kind === 'send') last.data += data;
      else steps.push({ kind: 'send', data });
    } else if (line.startsWith('S:')) {
      steps.push({ kind: 'expect', line: line.slice(3) });
    } else {
      throw new Error(`transcript line must start with C: or S: — ${line}`);
    }
  }
  return steps;
}

/** Plays the transcript; fails the test at the first server line that differs. */
export async function play(client: RawClient, transcript: string): Promise<void> {
  for (const step of parse(transcript)) {
    if (step.kind === 'send') {
      client.write(step.data);
      continue;
    }
    if (step.line === '<closed>') {
      await client.waitClosed();
      continue;
    }
    const got = await client.line();
    if (step.line.endsWith('...')) expect(got?.startsWith(step.line.slice(0, -3)), `expected "${step.line}", got "${got}"`).toBe(true);
    else expect(got).toBe(step.line);
  }
}
