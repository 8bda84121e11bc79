/**
 * The web dashboard in a real browser (Debian's chromium driven by playwright-core) against the
 * whole stack (`mailway start` with MAILWAY_ADMIN_PORT and a token): the token is asked for once;
 * the overview counts a deferred message under its domain; the search finds a message sent by
 * nodemailer in this test; its page shows the trace (accepted, routed, deferred with the next
 * hop's reply); once the next hop accepts mail again, pressing "Retry now" sends it, and its
 * trace then ends with the delivery. Screenshots go to test-artifacts/ (not committed).
 * Also: `mailway start` with an admin port and no token refuses to start, naming the key.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { type Browser, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SinkProcess, smtpSinkPath, spawnSmtpSink } from '@mailway/testing/smtp-sink';
import { type Stack, freePort, run, startStack } from './support/stack.js';

const chromiumPath = '/usr/bin/chromium';
const ready = existsSync(chromiumPath) && smtpSinkPath !== null;
const token = `dashboard-token-${Date.now()}`;
const artifacts = join(import.meta.dirname, '..', '..', '..', 'test-artifacts');

let s: Stack;
let sink: SinkProcess;
let sinkPort: number;
let adminPort: number;
let browser: Browser;

beforeAll(async () => {
  if (!ready) return;
  sinkPort = await freePort();
  adminPort = await freePort();
  // remote.test's next hop refuses every RCPT for now.
  sink = await spawnSmtpSink('127.0.0.1', sinkPort, ['-r', 'RCPT']);
  s = await startStack({ RELAY_TRANSPORTS: `remote.test=smtp:[127.0.0.1]:${sinkPort}`, MAILWAY_ADMIN_PORT: String(adminPort), MAILWAY_ADMIN_TOKEN: token });
  await s.mailway('domain', 'add', 'example.org');
  await s.mailway('user', 'add', 'alice@example.org', 'alice-secret');
  await s.mailway('user', 'add', 'bob@example.org', 'bob-secret');
  browser = await chromium.launch({ executablePath: chromiumPath, headless: true });
  await mkdir(artifacts, { recursive: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await s?.close();
  await sink?.stop();
});

/** Sends from alice with nodemailer; the queue id from the 250 reply. */
async function send(to: string, subject: string): Promise<string> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: Number(s.env.SUBMISSION_PORT), secure: false, requireTLS: true, auth: { user: 'alice@example.org', pass: 'alice-secret' }, tls: { rejectUnauthorized: false } });
  const info = await transport.sendMail({ from: 'alice@example.org', to, subject, text: 'Seen from the dashboard.' });
  transport.close();
  return /queued as ([0-9A-Z]+)/.exec(info.response)![1]!;
}

/** The trace table's event names, in order. */
const events = (page: Page) => page.locator('#trace tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-event') ?? ''));

describe.skipIf(!ready)('the web dashboard (skipped: needs /usr/bin/chromium and smtp-sink)', () => {
  it('shows the queue, finds a message, shows its trace, and retries a deferred one', async () => {
    await send('bob@example.org', 'for bob, delivered at once');
    const deferred = await send('carol@remote.test', 'for carol, deferred');
    // Wait until the attempt at remote.test has been made and refused.
    await s.waitFor('the deferred attempt', async () => ((await s.mailway('trace', deferred)).includes(' deferred ') ? true : null));

    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${adminPort}/`);
    // Asked for the token once; then the overview.
    await page.locator('#token').fill(token);
    await page.locator('#token-save').click();
    await expect.poll(() => page.locator('#counts [data-state="deferred"] b').textContent()).toBe('1');
    await expect.poll(() => page.locator('#deferred').textContent()).toContain('remote.test');

    // The search finds the message by its recipient; its link opens its page.
    await page.locator('#search').fill('carol@remote');
    await expect.poll(() => page.locator('#messages tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-queue-id') ?? ''))).toEqual([deferred]);
    await page.screenshot({ path: join(artifacts, 'dashboard-overview.png'), fullPage: true });
    await page.locator(`#messages a[href="/messages/${deferred}"]`).click();
    await page.waitForURL(`**/messages/${deferred}`);

    // Its trace and its recipient's latest attempt, without asking for the token again.
    await expect.poll(() => events(page)).toEqual(['accepted', 'routed', 'deferred']);
    expect(await page.locator('#trace tbody tr[data-event="deferred"]').textContent()).toContain('450 4.3.0 Error: command failed');
    expect(await page.locator('#recipients tr[data-recipient="carol@remote.test"]').textContent()).toMatch(/deferred.*127\.0\.0\.1: 450 4\.3\.0 Error: command failed/);
    expect(await page.locator('#token-box').isVisible()).toBe(false);
    await page.screenshot({ path: join(artifacts, 'dashboard-message-deferred.png'), fullPage: true });

    // The next hop takes mail again: "Retry now" sends it.
    await sink.stop();
    sink = await spawnSmtpSink('127.0.0.1', sinkPort);
    await page.locator('button[data-action="retry"]').click();
    await expect.poll(() => page.locator('#result').textContent()).toBe('retry: 1 job done');
    await expect
      .poll(
        async () => {
          await page.reload();
          return (await events(page)).join(' ');
        },
        { timeout: 20_000, interval: 500 },
      )
      .toBe('accepted routed deferred operator delivered');
    expect(await page.locator('#trace tbody tr[data-event="delivered"]').textContent()).toMatch(/carol@remote\.test.*via 127\.0\.0\.1/);
    expect(await page.locator('#recipients tbody').textContent()).toBe('no recipient left in the queue');
    await page.screenshot({ path: join(artifacts, 'dashboard-message-retried.png'), fullPage: true });
    await page.close();
  });

  it('asks for the token again when the one given is refused', async () => {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${adminPort}/`);
    await page.locator('#token').fill('not-the-token-at-all');
    await page.locator('#token-save').click();
    await expect.poll(() => page.locator('#error').textContent()).toBe('That token was refused.');
    expect(await page.locator('#token-box').isVisible()).toBe(true);
    expect(await page.locator('#counts').textContent()).toBe('');
    await page.close();
  });
});

describe('mailway start with an admin port', () => {
  it('refuses to start without a token, naming the key', async () => {
    const cliDir = join(import.meta.dirname, '..');
    const failed = await run(process.execPath, ['--import', 'tsx', '--conditions=@mailway/source', 'src/main.ts', 'start'], { cwd: cliDir, env: { PATH: process.env.PATH ?? '', REDIS_URL: process.env.MAILWAY_TEST_REDIS_URL ?? '', MAILWAY_ADMIN_PORT: '8025', MAILWAY_HOME: join(artifacts, 'never') } }).catch((e: { code: number; stderr: string }) => e);
    expect(failed).toMatchObject({ code: 1 });
    expect((failed as { stderr: string }).stderr).toContain('MAILWAY_ADMIN_TOKEN must be set when MAILWAY_ADMIN_PORT is');
    expect(existsSync(join(artifacts, 'never'))).toBe(false);
  });
});
