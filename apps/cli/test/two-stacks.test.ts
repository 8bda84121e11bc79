/**
 * Two Mailway sites exchanging mail as two sites on the Internet do. Each is a whole `mailway
 * start` (submission, relay and delivery as processes) with its own redis-server, its own
 * MAILWAY_HOME and host name, and its own domain: alpha.test on 127.0.0.21, beta.test on
 * 127.0.0.22. One dnsmasq serves the MX records of both domains, and both relays listen on the
 * same port, which each reaches the other's MX on (RELAY_OUTBOUND_PORT). A user of alpha submits
 * on alpha's submission port (STARTTLS + AUTH):
 * - to a user of beta: the message goes out of alpha's relay by MX lookup, into beta's relay,
 *   and lands in beta's Maildir carrying alpha's Received field under beta's;
 * - to an unknown user of beta: beta refuses the recipient at RCPT, and alpha's failure notice
 *   (an RFC 3464 DSN, read back with Python's email package) lands in the sender's Maildir.
 * Afterwards neither site has anything left: no queued, active, delayed or failed job, no spool
 * entry.
 *
 * Alpha publishes what a careful domain does: SPF (its relay's address), a DKIM key, which its
 * submission agent signs with, and DMARC p=reject. Beta's port 25 checks all three, so the
 * message lands only because alpha's own signature and address pass there (a failure would be
 * refused under p=reject), and beta's Authentication-Results field says so.
 *
 * A whole stack per site (rather than two relays) because this is what an installation is: the
 * submission agent takes the message, the delivery agent writes both the message and the notice.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bullPrefix } from '@mailway/queue/queues';
import { dnsmasqForTests } from '@mailway/testing/dns';
import { parseDsn } from '@mailway/testing/dsn-parse';
import { type TestRedis, startRedis } from '@mailway/vitest-config/redis';
import { type Stack, startStack } from './support/stack.js';

interface Site {
  readonly domain: string;
  readonly hostname: string;
  readonly address: string;
  readonly redis: TestRedis;
  readonly stack: Stack;
}

const queueNames = ['transfer', 'delivery', 'outbound'] as const;

// Alpha's DKIM key (1024 bits: its public half fits one TXT string).
const dkimKey = generateKeyPairSync('rsa', { modulusLength: 1024 });
const dkimPublic = dkimKey.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

// MX hosts are reached on one port: both relays listen on it, each on its own address.
const world = dnsmasqForTests(
  {
    txt: [
      ['alpha.test', 'v=spf1 ip4:127.0.0.21 -all'],
      ['mailway._domainkey.alpha.test', `v=DKIM1; k=rsa; p=${dkimPublic}`],
      ['_dmarc.alpha.test', 'v=DMARC1; p=reject; adkim=s; aspf=s'],
    ],
    mx: [
      ['alpha.test', 'mx.alpha.test', 10],
      ['beta.test', 'mx.beta.test', 10],
    ],
    hosts: [
      ['mx.alpha.test', '127.0.0.21'],
      ['mx.beta.test', '127.0.0.22'],
    ],
  },
  ['127.0.0.21', '127.0.0.22'],
);
let alpha: Site;
let beta: Site;
const redises: TestRedis[] = [];
const stacks: Stack[] = [];
let keyDir: string;

beforeAll(async () => {
  keyDir = await mkdtemp(join(tmpdir(), 'mailway-dkim-'));
  const keyFile = join(keyDir, 'alpha.pem');
  await writeFile(keyFile, dkimKey.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const site = async (domain: string, address: string, env: Record<string, string> = {}): Promise<Site> => {
    const redis = await startRedis();
    redises.push(redis);
    const hostname = `mx.${domain}`;
    const stack = await startStack({
      REDIS_URL: redis.url,
      MAILWAY_HOSTNAME: hostname,
      SUBMISSION_HOST: address,
      RELAY_HOST: address,
      RELAY_PORT: String(world.port),
      RELAY_OUTBOUND_PORT: String(world.port),
      // Each site sends from its own address, as its SPF record says.
      RELAY_OUTBOUND_BIND_ADDRESS: address,
      RELAY_DNS_SERVERS: world.dns.address,
      ...env,
    });
    stacks.push(stack);
    await stack.mailway('domain', 'add', domain);
    return { domain, hostname, address, redis, stack };
  };
  [alpha, beta] = await Promise.all([site('alpha.test', '127.0.0.21', { SUBMISSION_DKIM_DOMAINS: 'alpha.test', SUBMISSION_DKIM_KEY_FILE: keyFile }), site('beta.test', '127.0.0.22')]);
  await alpha.stack.mailway('user', 'add', 'alice@alpha.test', 'alice-secret');
  await beta.stack.mailway('user', 'add', 'bob@beta.test', 'bob-secret');
}, 120_000);

afterAll(async () => {
  await Promise.all(stacks.map((stack) => stack.close()));
  await Promise.all(redises.map((redis) => redis.stop()));
  if (keyDir !== undefined) await rm(keyDir, { recursive: true, force: true });
}, 60_000);

describe('two Mailway sites, mail between them by MX', () => {
  it('a message from alpha\'s user lands in beta\'s Maildir, with alpha\'s Received field under beta\'s', async () => {
    const messageId = `${randomUUID()}@alpha.test`;
    const raw = message({ from: 'alice@alpha.test', to: 'bob@beta.test', subject: 'across sites', messageId });
    expect(await submit(alpha, 'alice@alpha.test', 'alice-secret', 'bob@beta.test', raw)).toMatch(/^250 2\.0\.0 /);

    const [stored] = await arrived(beta, 'bob', 1);
    // The original, octet for octet, behind the fields the two sites added.
    expect(stored!.subarray(stored!.length - raw.length).equals(raw)).toBe(true);
    const fields = headerFields(stored!.subarray(0, stored!.length - raw.length));
    expect(fields[0]).toBe('Return-Path: <alice@alpha.test>');
    expect(fields[1]).toBe('Delivered-To: bob@beta.test');
    const received = fields.filter((field) => field.startsWith('Received:'));
    expect(received).toHaveLength(2);
    // Beta's relay took it from alpha's relay (its EHLO name), over STARTTLS.
    expect(received[0]).toMatch(/^Received: from mx\.alpha\.test \(.*\) \(using TLS\S* with cipher \S+\) by mx\.beta\.test with ESMTPS id \S+ for <bob@beta\.test>;/);
    // Alpha's submission agent took it from alice, logged in.
    expect(received[1]).toMatch(/ by mx\.alpha\.test with ESMTPSA id \S+ for <bob@beta\.test>;/);
    // Alpha signed it; beta checked the signature, the sending address and alpha's DMARC policy.
    expect(fields.some((field) => /^DKIM-Signature: .*\bd=alpha\.test;.*\bs=mailway;/.test(field))).toBe(true);
    const results = fields.find((field) => field.startsWith('Authentication-Results: mx.beta.test;'));
    expect(results).toMatch(/\bspf=pass\b[^;]*smtp\.mailfrom=alice@alpha\.test/);
    expect(results).toMatch(/\bdkim=pass\b[^;]*header\.i=@alpha\.test header\.s=mailway/);
    expect(results).toMatch(/\bdmarc=pass\b[^;]*header\.from=alpha\.test/);
  });

  it('a message to an unknown user of beta is refused at RCPT, and alpha\'s DSN lands in the sender\'s Maildir', async () => {
    const messageId = `${randomUUID()}@alpha.test`;
    const raw = message({ from: 'alice@alpha.test', to: 'ghost@beta.test', subject: 'nobody home', messageId });
    expect(await submit(alpha, 'alice@alpha.test', 'alice-secret', 'ghost@beta.test', raw)).toMatch(/^250 2\.0\.0 /);

    const [notice] = await arrived(alpha, 'alice', 1);
    expect(headerFields(notice!)[0]).toBe('Return-Path: <>');
    const dsn = await parseDsn(notice!);
    expect(dsn.contentType).toBe('multipart/report');
    expect(dsn.reportType).toBe('delivery-status');
    expect(dsn.perMessage['Reporting-MTA']).toBe('dns; mx.alpha.test');
    expect(dsn.perRecipient).toHaveLength(1);
    expect(dsn.perRecipient[0]).toMatchObject({
      'Final-Recipient': 'rfc822; ghost@beta.test',
      Action: 'failed',
      Status: '5.1.1',
      'Remote-MTA': 'dns; mx.beta.test',
    });
    // Beta's own answer to RCPT, passed on.
    expect(dsn.perRecipient[0]!['Diagnostic-Code']).toMatch(/^smtp; 550 5\.1\.1 /);
    expect(dsn.returned).toContain(`Message-ID: <${messageId}>`);
    // Nothing reached beta's mailboxes for it.
    expect(await maildir(beta, 'bob')).toHaveLength(1);
  });

  it('leaves no job and no spool entry behind on either site', async () => {
    for (const site of [alpha, beta]) {
      const left = await site.stack.waitFor(`${site.domain} to have finished`, async () => {
        const now = await leftovers(site);
        return Object.values(now.jobs).every((n) => n === 0) && now.spool.length === 0 ? now : null;
      }, 10_000).catch(async () => leftovers(site));
      expect(left, site.domain).toEqual({ jobs: { transfer: 0, delivery: 0, outbound: 0 }, spool: [] });
    }
    // Mail went the way the test sent it, once each.
    expect(await maildir(beta, 'bob')).toHaveLength(1);
    expect(await maildir(alpha, 'alice')).toHaveLength(1);
  }, 60_000);
});

/** Submits `raw` as `user` on the site's submission port (STARTTLS required, AUTH); the final reply. */
async function submit(site: Site, user: string, pass: string, to: string, raw: Buffer): Promise<string> {
  const transport = nodemailer.createTransport({ host: site.address, port: Number(site.stack.env.SUBMISSION_PORT), secure: false, requireTLS: true, auth: { user, pass }, tls: { rejectUnauthorized: false } });
  try {
    return (await transport.sendMail({ envelope: { from: user, to: [to] }, raw })).response;
  } finally {
    transport.close();
  }
}

function message(m: { from: string; to: string; subject: string; messageId: string }): Buffer {
  return Buffer.from([`From: ${m.from}`, `To: ${m.to}`, `Subject: ${m.subject}`, 'Date: Mon, 07 Dec 2026 09:00:00 +0000', `Message-ID: <${m.messageId}>`, '', 'From one site to the other.', ''].join('\r\n'));
}

/** The messages in `user`'s Maildir/new on `site`. */
async function maildir(site: Site, user: string): Promise<Buffer[]> {
  const dir = join(site.stack.home, 'mail', site.domain, user, 'Maildir', 'new');
  const names = (await readdir(dir).catch(() => [] as string[])).sort();
  return Promise.all(names.map((name) => readFile(join(dir, name))));
}

/** The Maildir's messages once it holds `count` (any more fails the caller's checks). */
async function arrived(site: Site, user: string, count: number): Promise<Buffer[]> {
  return site.stack.waitFor(`${count} message(s) for ${user}@${site.domain}`, async () => {
    const messages = await maildir(site, user);
    return messages.length >= count ? messages : null;
  }, 20_000);
}

/** A message's header fields, unfolded, in order. */
function headerFields(message: Buffer): string[] {
  const text = message.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const head = end === -1 ? text : text.slice(0, end);
  return head.replace(/\r\n[ \t]+/g, ' ').split('\r\n').filter((line) => line !== '');
}

/** Jobs not yet done (waiting, active, delayed, failed…) per queue, and the spool ids stored. */
async function leftovers(site: Site): Promise<{ jobs: Record<(typeof queueNames)[number], number>; spool: string[] }> {
  const prefix = site.stack.env.MAILWAY_REDIS_PREFIX ?? '';
  const redis = new Redis(site.redis.url, { maxRetriesPerRequest: null });
  try {
    const jobs = { transfer: 0, delivery: 0, outbound: 0 };
    for (const name of queueNames) {
      const queue = new Queue(name, { connection: redis, prefix: bullPrefix(prefix) });
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'failed');
      jobs[name] = Object.values(counts).reduce((sum, n) => sum + n, 0);
      await queue.close();
    }
    const keys = await redis.keys(`${prefix}spool:*`);
    return { jobs, spool: [...new Set(keys.map((key) => key.slice(key.indexOf('{') + 1, key.indexOf('}'))))].sort() };
  } finally {
    redis.disconnect();
  }
}
