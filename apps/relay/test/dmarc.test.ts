/**
 * Sender authentication on port 25 against real DNS and a real client: dnsmasq serves the
 * SPF, DKIM, DMARC and block-list records of `.test` domains; Python's smtplib sends from
 * loopback source addresses that the SPF records list (127.0.0.2) or not (127.0.0.3); messages
 * are DKIM-signed and ARC-sealed here with real keys (mailauth). The relay applies what each
 * domain publishes: aligned SPF or DKIM passes, p=reject refuses at end of data with nothing
 * queued, p=quarantine lands in the recipient's `.Junk` Maildir folder through the delivery
 * agent (run as its own process), a trusted ARC sealer outweighs a failure, a DNS timeout is a
 * 4xx, and a client on a block list is refused at connect.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { dkimSign, sealMessage } from 'mailauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, logged, startAgentMain } from '@mailway/testing/agent-process';
import { type TestDns, startBrokenDns, startDnsmasq } from '@mailway/testing/dns';
import { Dialog } from '@mailway/testing/dialog';
import { type Harness, bob, message, queueIdOf, startRelay } from './support/harness.js';

const run = promisify(execFile);

/** An RSA key pair: the PEM private key and the DKIM `p=` value (1024 bits: one TXT string). */
function keyPair(): { privateKey: string; record: string } {
  const pair = generateKeyPairSync('rsa', { modulusLength: 1024 });
  return {
    privateKey: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    record: `v=DKIM1; k=rsa; p=${pair.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`,
  };
}

const sender = keyPair();
const forwarder = keyPair();
const stranger = keyPair();
const sealer = keyPair();

/** The client addresses: one the SPF records list, one they do not, one on the block list, one on both lists. */
const listed = '127.0.0.2';
const unlisted = '127.0.0.3';
const blocked = '127.0.0.9';
const allowed = '127.0.0.10';

const spf = `v=spf1 ip4:${listed} -all`;
const records = {
  txt: [
    ['aligned.test', spf],
    ['s1._domainkey.aligned.test', sender.record],
    ['_dmarc.aligned.test', 'v=DMARC1; p=reject; rua=mailto:dmarc@aligned.test'],
    ['quarantine.test', spf],
    ['_dmarc.quarantine.test', 'v=DMARC1; p=quarantine'],
    ['parent.test', spf],
    ['sub.parent.test', spf],
    ['_dmarc.parent.test', 'v=DMARC1; p=none; sp=reject'],
    ['sampled.test', spf],
    ['_dmarc.sampled.test', 'v=DMARC1; p=reject; pct=0'],
    ['override.test', spf],
    ['_dmarc.override.test', 'v=DMARC1; p=reject'],
    ['arc._domainkey.forwarder.test', forwarder.record],
    ['arc._domainkey.stranger.test', stranger.record],
    ['seal._domainkey.relay.test', sealer.record],
  ] as [string, string][],
  // The block list lists 127.0.0.9 and 127.0.0.10; the allow list 127.0.0.10.
  hosts: [
    ['9.0.0.127.bl.test', '127.0.0.2'],
    ['10.0.0.127.bl.test', '127.0.0.2'],
    ['10.0.0.127.wl.test', '127.0.10.1'],
  ] as [string, string][],
};

interface Replies {
  connect?: [number, string];
  mail?: [number, string];
  rcpt?: [number, string];
  data?: [number, string];
}

/** smtplib from `source`: EHLO, MAIL, RCPT and DATA (each only after the last was taken); every reply. */
async function smtplib(port: number, source: string, from: string, raw: string | Buffer): Promise<Replies> {
  const script = [
    'import smtplib, sys, json',
    'args = json.loads(sys.argv[1])',
    'data = sys.stdin.buffer.read()',
    'out = {}',
    'try:',
    "    s = smtplib.SMTP('127.0.0.1', args['port'], local_hostname='mail.sender.test', source_address=(args['source'], 0))",
    'except smtplib.SMTPConnectError as e:',
    "    out['connect'] = [e.smtp_code, e.smtp_error.decode()]",
    '    print(json.dumps(out)); sys.exit(0)',
    's.ehlo()',
    "code, text = s.mail(args['from']); out['mail'] = [code, text.decode()]",
    'if code == 250:',
    "    code, text = s.rcpt('bob@local.example'); out['rcpt'] = [code, text.decode()]",
    'if code == 250:',
    "    code, text = s.data(data); out['data'] = [code, text.decode()]",
    's.quit()',
    'print(json.dumps(out))',
  ].join('\n');
  const child = run('python3', ['-c', script, JSON.stringify({ port, source, from })]);
  child.child.stdin?.end(raw);
  return JSON.parse((await child).stdout) as Replies;
}

/** A message from `from` signed by aligned.test's key. */
async function signed(raw: string): Promise<string> {
  const signature = { signingDomain: 'aligned.test', selector: 's1', privateKey: sender.privateKey, canonicalization: 'relaxed/relaxed' };
  // One signing time: mailauth otherwise reads the clock twice for t= (see the submission signer).
  const result = await dkimSign(raw, { ...signature, signatureData: [signature], signTime: new Date() });
  expect(result.errors).toEqual([]);
  return result.signatures + raw;
}

/**
 * dkimpy's ARC verdict (cv) for `message`, its DNS answering `name` with `record`. Debian's
 * python3-dkim lives in the system Python (/usr/bin/python3), not in another one on PATH.
 */
async function arcVerifiedByDkimpy(message: string, name: string, record: string): Promise<string> {
  const script = [
    'import dkim, sys',
    'name, record = sys.argv[1], sys.argv[2].encode()',
    'def dns(qname, timeout=5):',
    '    return record if qname.decode().rstrip(".") == name else None',
    'cv, results, reason = dkim.arc_verify(open(sys.argv[3], "rb").read(), dnsfunc=dns)',
    'print(cv.decode(), reason)',
  ].join('\n');
  const file = join(root, 'arc-message.eml');
  await writeFile(file, message);
  const { stdout } = await promisify(execFile)('/usr/bin/python3', ['-c', script, name, record, file]);
  return stdout.trim().split(' ')[0] ?? '';
}

/** `raw` sealed by `domain` (ARC, i=1), whose ARC-Authentication-Results says the original passed. */
async function sealed(raw: string, domain: string, privateKey: string): Promise<string> {
  const headers = await sealMessage(raw, {
    signingDomain: domain,
    selector: 'arc',
    privateKey,
    authResults: `mx.${domain}; dkim=pass header.d=aligned.test header.s=s1; spf=pass smtp.mailfrom=sam@aligned.test; dmarc=pass header.from=aligned.test`,
    cv: 'none',
    signTime: new Date(),
  } as Parameters<typeof sealMessage>[1]);
  return headers.toString() + raw;
}

let dns: TestDns;
let silent: TestDns;
let failing: TestDns;
let h: Harness;
let root: string;
let delivery: AgentProcess | undefined;

beforeAll(async () => {
  silent = await startBrokenDns('silent');
  failing = await startBrokenDns('servfail');
  dns = await startDnsmasq({ ...records, forward: [['slow.test', silent.address], ['broken.test', failing.address], ['down.test', failing.address]] });
  h = await startRelay({
    env: {
      RELAY_DNS_SERVERS: dns.address,
      RELAY_AUTH_DNS_TIMEOUT: '300ms',
      RELAY_DNSBL_ZONES: 'bl.test,down.test',
      RELAY_DNSWL_ZONES: 'wl.test',
      RELAY_ARC_TRUSTED_SEALERS: 'forwarder.test,relay.test',
      RELAY_DMARC_OVERRIDE_DOMAINS: 'override.test',
    },
  });
  root = await mkdtemp(join(tmpdir(), 'mailway-dmarc-'));
}, 60_000);

/** The delivery agent, as operators run it, on the relay's Redis and directory (it empties the spool as it delivers). */
async function startDeliveryAgent(): Promise<void> {
  delivery = startAgentMain(join(import.meta.dirname, '../../delivery'), {
    REDIS_URL: h.config.redis.url,
    MAILWAY_REDIS_PREFIX: h.prefix,
    MAILWAY_HOSTNAME: 'mda.local.example',
    DELIVERY_MAILBOX_ROOT: root,
    DELIVERY_LMTP_HOST: '127.0.0.1',
    DELIVERY_LMTP_PORT: '0',
    DELIVERY_HTTP_PORT: '0',
  });
  await logged(delivery, 'delivery ready');
}

afterAll(async () => {
  delivery?.child.kill('SIGTERM');
  await delivery?.exit;
  await h?.close();
  await dns?.stop();
  await silent?.stop();
  await failing?.stop();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

/** The `queued` log line of a message. */
function queuedLine(queueId: string): Record<string, unknown> | undefined {
  return h.logs.find((l) => l.msg === 'queued' && l.queueId === queueId);
}

/** The stored content of queued message `reply`, folds undone. */
async function stored(reply: [number, string] | undefined): Promise<string> {
  expect(reply?.[0]).toBe(250);
  return (await h.stored(queueIdOf(reply?.[1] ?? ''))).toString('utf8').replace(/\r\n[ \t]+/g, ' ');
}

/** Files in a Maildir folder's new/ (the inbox for ''), once there are `count`. */
async function waitForMail(folder: string, count = 1): Promise<string[]> {
  const dir = join(root, 'local.example', 'bob', 'Maildir', folder, 'new');
  const deadline = Date.now() + 10_000;
  for (;;) {
    const names = await readdir(dir).catch(() => [] as string[]);
    if (names.length >= count || Date.now() > deadline) return names.map((n) => join(dir, n));
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('DMARC with alignment', () => {
  it('aligned SPF and DKIM: accepted, dmarc=pass recorded', async () => {
    const raw = await signed(message({ from: 'Sam <sam@aligned.test>', extraHeaders: 'Message-ID: <both@aligned.test>' }));
    const replies = await smtplib(h.agent.port, listed, 'sam@aligned.test', raw);
    const content = await stored(replies.data);
    expect(content).toMatch(/^Authentication-Results: mx\.local\.example; dkim=pass header\.i=@aligned\.test/);
    expect(content).toMatch(/; spf=pass .* smtp\.mailfrom=sam@aligned\.test/);
    expect(content).toMatch(/; dmarc=pass /);
    expect(queuedLine(queueIdOf(replies.data?.[1] ?? ''))).toMatchObject({ authResults: 'dkim=pass spf=pass dmarc=pass', dmarc: { domain: 'aligned.test', result: 'pass', action: 'accept', reason: 'pass' } });
    expect(await h.metric(/^mailway_relay_auth_results_total\{method="dkim",result="pass"/)).toBeGreaterThanOrEqual(1);
    expect(await h.metric(/^mailway_relay_auth_results_total\{method="spf",result="pass"/)).toBeGreaterThanOrEqual(1);
    expect(await h.metric(/^mailway_relay_dmarc_actions_total\{action="accept",reason="pass"/)).toBeGreaterThanOrEqual(1);
  });

  it('every DKIM signature gets its own result: a third party\'s without a key beside the aligned one', async () => {
    const raw = await signed(message({ from: 'sam@aligned.test' }));
    const thirdParty = { signingDomain: 'esp.test', selector: 'gone', privateKey: stranger.privateKey, canonicalization: 'relaxed/relaxed' };
    const twice = await dkimSign(raw, { ...thirdParty, signatureData: [thirdParty], signTime: new Date() });
    const replies = await smtplib(h.agent.port, unlisted, 'bounces@esp.test', twice.signatures + raw);
    const content = await stored(replies.data);
    expect(content).toMatch(/dkim=neutral \(no key\) header\.i=@esp\.test header\.s=gone/);
    expect(content).toMatch(/dkim=pass header\.i=@aligned\.test header\.s=s1/);
    expect(content).toMatch(/dmarc=pass/);
    expect(queuedLine(queueIdOf(replies.data?.[1] ?? ''))).toMatchObject({ authResults: 'dkim=neutral dkim=pass spf=none dmarc=pass' });
  });

  it('SPF only (unsigned, from a listed address): accepted', async () => {
    const replies = await smtplib(h.agent.port, listed, 'sam@aligned.test', message({ from: 'sam@aligned.test' }));
    const content = await stored(replies.data);
    expect(content).toMatch(/spf=pass/);
    expect(content).toMatch(/dmarc=pass/);
  });

  it('DKIM only (signed, from an address SPF does not list): accepted, spf=fail recorded', async () => {
    const raw = await signed(message({ from: 'sam@aligned.test' }));
    const replies = await smtplib(h.agent.port, unlisted, 'sam@aligned.test', raw);
    const content = await stored(replies.data);
    expect(content).toMatch(/dkim=pass/);
    expect(content).toMatch(/spf=fail/);
    expect(content).toMatch(/dmarc=pass/);
  });

  it('both fail under p=reject: 550 5.7.1 once at end of data, nothing queued, the session goes on', async () => {
    const transfersBefore = (await h.jobs('transfer')).length;
    const spooledBefore = (await h.redis.keys(`${h.prefix}spool*`)).length;
    const replies = await smtplib(h.agent.port, unlisted, 'sam@aligned.test', message({ from: 'sam@aligned.test', extraHeaders: 'Message-ID: <forged@aligned.test>' }));
    expect(replies.mail?.[0]).toBe(250);
    expect(replies.data).toEqual([550, '5.7.1 Message rejected per DMARC policy of aligned.test']);
    expect((await h.jobs('transfer')).length).toBe(transfersBefore);
    expect((await h.redis.keys(`${h.prefix}spool*`)).length).toBeLessThanOrEqual(spooledBefore);
    expect(h.logs.find((l) => l.msg === 'message refused: DMARC policy reject')).toMatchObject({ ip: unlisted, dmarc: { domain: 'aligned.test', result: 'fail', policy: 'reject', action: 'reject' } });
    expect(await h.metric(/^mailway_relay_dmarc_actions_total\{action="reject",reason="policy"/)).toBeGreaterThanOrEqual(1);
    expect(await h.metric(/^mailway_relay_rejections_total\{reason="dmarc_reject"/)).toBeGreaterThanOrEqual(1);
  });

  it('sp=reject applies to a subdomain; p=none for the domain itself records only', async () => {
    const sub = await smtplib(h.agent.port, unlisted, 'sam@sub.parent.test', message({ from: 'sam@sub.parent.test' }));
    expect(sub.data?.[0]).toBe(550);
    const top = await smtplib(h.agent.port, unlisted, 'sam@parent.test', message({ from: 'sam@parent.test' }));
    expect(await stored(top.data)).toMatch(/dmarc=fail/);
    expect(queuedLine(queueIdOf(top.data?.[1] ?? ''))).toMatchObject({ dmarc: { policy: 'none', action: 'accept', reason: 'policy' } });
  });

  it('pct=0: a p=reject failure outside the sample is quarantined instead', async () => {
    const replies = await smtplib(h.agent.port, unlisted, 'sam@sampled.test', message({ from: 'sam@sampled.test' }));
    expect(queuedLine(queueIdOf(replies.data?.[1] ?? ''))).toMatchObject({ quarantine: true, dmarc: { action: 'quarantine', reason: 'sampled_out' } });
  });

  it('a domain in RELAY_DMARC_OVERRIDE_DOMAINS: its p=reject is not applied', async () => {
    const replies = await smtplib(h.agent.port, unlisted, 'sam@override.test', message({ from: 'sam@override.test' }));
    expect(queuedLine(queueIdOf(replies.data?.[1] ?? ''))).toMatchObject({ dmarc: { result: 'fail', action: 'accept', reason: 'local_policy' } });
  });
});

describe('ARC (RFC 8617)', () => {
  /** aligned.test's signed message, changed by a list (a footer breaks the signature), then sealed. */
  async function forwarded(sealer: string, key: string): Promise<string> {
    const original = await signed(message({ from: 'sam@aligned.test', body: 'Hello Bob.' }));
    return sealed(`${original}-- \r\nThe list footer.\r\n`, sealer, key);
  }

  it('a trusted sealer that saw the original pass outweighs the DMARC failure', async () => {
    const replies = await smtplib(h.agent.port, unlisted, 'list-bounces@forwarder.test', await forwarded('forwarder.test', forwarder.privateKey));
    const content = await stored(replies.data);
    expect(content).toMatch(/arc=pass/);
    expect(content).toMatch(/dmarc=fail/);
    expect(queuedLine(queueIdOf(replies.data?.[1] ?? ''))).toMatchObject({ dmarc: { action: 'accept', reason: 'trusted_forwarder', sealer: 'forwarder.test' } });
  });

  it('the same from a sealer not in RELAY_ARC_TRUSTED_SEALERS is refused', async () => {
    const replies = await smtplib(h.agent.port, unlisted, 'list-bounces@stranger.test', await forwarded('stranger.test', stranger.privateKey));
    expect(replies.data?.[0]).toBe(550);
  });
});

describe('ARC sealing (RELAY_ARC_SEAL_*)', () => {
  it('seals what this hop saw, and a relay trusting the sealer takes the forward that SPF alone would fail', async () => {
    const keyFile = join(root, 'seal.pem');
    await writeFile(keyFile, sealer.privateKey);
    const first = await startRelay({ env: { RELAY_DNS_SERVERS: dns.address, RELAY_ARC_SEAL_DOMAIN: 'relay.test', RELAY_ARC_SEAL_SELECTOR: 'seal', RELAY_ARC_SEAL_KEY: keyFile } });
    try {
      // First hop: unsigned, from the address SPF lists: passes by aligned SPF, and is sealed.
      const replies = await smtplib(first.agent.port, listed, 'sam@aligned.test', message({ from: 'sam@aligned.test', subject: 'sealed on the way' }));
      expect(replies.data?.[0]).toBe(250);
      const sealedCopy = (await first.stored(queueIdOf(replies.data?.[1] ?? ''))).toString('utf8');
      const unfolded = sealedCopy.replace(/\r\n[ \t]+/g, ' ');
      expect(unfolded).toMatch(/^ARC-Seal: i=1; a=rsa-sha256; t=\d+; cv=none; d=relay\.test; s=seal; /);
      expect(unfolded).toMatch(/\r\nARC-Message-Signature: i=1; /);
      expect(unfolded).toMatch(/\r\nARC-Authentication-Results: i=1; mx\.local\.example; .*spf=pass .*dmarc=pass /);
      expect(unfolded).toMatch(/\r\nAuthentication-Results: mx\.local\.example; /);
      // An independent verifier agrees: dkimpy (Debian's python3-dkim) checks the seal and the
      // message signature against the sealer's published key.
      expect(await arcVerifiedByDkimpy(sealedCopy, 'seal._domainkey.relay.test', sealer.record)).toBe('pass');

      // Forwarded as it is from an address SPF does not list: DMARC fails, the trusted seal vouches.
      const forwarded = await smtplib(h.agent.port, unlisted, 'sam@aligned.test', sealedCopy);
      const content = await stored(forwarded.data);
      expect(content).toMatch(/arc=pass \(i=1 spf=pass dkim=none dmarc=pass fromdomain=aligned\.test\)/);
      expect(queuedLine(queueIdOf(forwarded.data?.[1] ?? ''))).toMatchObject({ dmarc: { result: 'fail', action: 'accept', reason: 'trusted_forwarder', sealer: 'relay.test' } });
    } finally {
      await first.close();
    }
  });

  it('sealing settings go together, and the key must be readable', async () => {
    const { loadRelayConfig } = await import('../src/config.js');
    const load = (env: Record<string, string>) => () => loadRelayConfig({ env: { MAILWAY_HOSTNAME: 'mx.local.example', ...env }, file: null });
    expect(load({ RELAY_ARC_SEAL_DOMAIN: 'relay.test', RELAY_ARC_SEAL_SELECTOR: 'seal' })).toThrow(/RELAY_ARC_SEAL_KEY.*all three or none/);
    expect(load({ RELAY_ARC_SEAL_DOMAIN: 'relay.test', RELAY_ARC_SEAL_SELECTOR: 'seal', RELAY_ARC_SEAL_KEY: join(root, 'missing.pem') })).toThrow(/RELAY_ARC_SEAL_KEY.*cannot read a private key/);
  });
});

describe('DNS trouble is temporary', () => {
  it('a domain whose DNS does not answer: 451 4.7.0 at end of data, never a 5xx', async () => {
    const replies = await smtplib(h.agent.port, unlisted, 'sam@slow.test', message({ from: 'sam@slow.test' }));
    expect(replies.mail?.[0]).toBe(250);
    expect(replies.data).toEqual([451, '4.7.0 Temporary authentication failure, try again later']);
    expect(h.logs.find((l) => l.msg === 'message deferred: DMARC could not be evaluated')).toMatchObject({ dmarc: { domain: 'slow.test', reason: 'temperror' } });
  }, 20_000);
});

describe('DNS trouble is temporary (SERVFAIL)', () => {
  it('a domain whose name servers fail: 451 4.7.0 at end of data', async () => {
    const replies = await smtplib(h.agent.port, unlisted, 'sam@broken.test', message({ from: 'sam@broken.test' }));
    expect(replies.data).toEqual([451, '4.7.0 Temporary authentication failure, try again later']);
  });
});

describe('DNS block and allow lists at connect', () => {
  it('a listed client gets 554 5.7.1 naming the zone, and the connection closes', async () => {
    const replies = await smtplib(h.agent.port, blocked, 'sam@aligned.test', message({ from: 'sam@aligned.test' }));
    expect(replies.connect).toEqual([554, `5.7.1 Service unavailable; client [${blocked}] blocked using bl.test`]);
    expect(await h.metric(/^mailway_relay_dnsbl_checks_total\{zone="bl\.test",outcome="listed"/)).toBeGreaterThanOrEqual(1);
    // A second connection is answered from the cache.
    const again = await smtplib(h.agent.port, blocked, 'sam@aligned.test', message({ from: 'sam@aligned.test' }));
    expect(again.connect?.[0]).toBe(554);
    expect(await h.metric(/^mailway_relay_dnsbl_checks_total\{zone="cache",outcome="listed"/)).toBeGreaterThanOrEqual(1);
  });

  it('a block list that fails (SERVFAIL) counts as not listing the client', async () => {
    const replies = await smtplib(h.agent.port, '127.0.0.11', 'sam@parent.test', message({ from: 'sam@parent.test' }));
    expect(replies.mail?.[0]).toBe(250);
    expect(await h.metric(/^mailway_relay_dnsbl_checks_total\{zone="down\.test",outcome="error"/)).toBeGreaterThanOrEqual(1);
    expect(h.logs.find((l) => l.msg === 'DNS list not answering: client taken as not listed' && l.ip === '127.0.0.11')).toMatchObject({ zone: 'down.test' });
  });

  it('a client on the allow list is not refused, though the block list lists it too', async () => {
    const replies = await smtplib(h.agent.port, allowed, 'sam@parent.test', message({ from: 'sam@parent.test' }));
    expect(replies.connect).toBeUndefined();
    expect(replies.mail?.[0]).toBe(250);
  });
});

describe('RELAY_SPF_REJECT_FAIL', () => {
  it('refuses a -all failure at MAIL FROM with 550 5.7.23; a pass goes on', async () => {
    const strict = await startRelay({ env: { RELAY_DNS_SERVERS: dns.address, RELAY_SPF_REJECT_FAIL: 'true' } });
    try {
      const refused = await smtplib(strict.agent.port, unlisted, 'sam@aligned.test', message({ from: 'sam@aligned.test' }));
      expect(refused.mail).toEqual([550, `5.7.23 SPF validation failed: aligned.test does not designate ${unlisted} as a permitted sender`]);
      const passed = await smtplib(strict.agent.port, listed, 'sam@aligned.test', message({ from: 'sam@aligned.test' }));
      expect(passed.data?.[0]).toBe(250);
    } finally {
      await strict.close();
    }
  });
});

describe('trusted clients', () => {
  it('an authenticated client is not held to DMARC', async () => {
    const { dialog } = await Dialog.open(h.agent.port);
    await dialog.startTls();
    expect((await dialog.authPlain(bob.user, bob.pass)).status).toBe('235 2.7.0');
    expect((await dialog.command('MAIL FROM:<sam@aligned.test>')).status).toBe('250 2.1.0');
    expect((await dialog.command('RCPT TO:<bob@local.example>')).status).toBe('250 2.1.5');
    const reply = await dialog.data(message({ from: 'sam@aligned.test' }));
    await dialog.close();
    expect(reply.status).toBe('250 2.0.0');
    expect(queuedLine(queueIdOf(reply.text))).toMatchObject({ authResults: null });
  });

  it('a client in RELAY_NETWORKS is not held to DMARC (nor looked up in block lists)', async () => {
    const trusting = await startRelay({ env: { RELAY_DNS_SERVERS: dns.address, RELAY_NETWORKS: '127.0.0.0/8', RELAY_DNSBL_ZONES: 'bl.test' } });
    try {
      const replies = await smtplib(trusting.agent.port, blocked, 'sam@aligned.test', message({ from: 'sam@aligned.test' }));
      expect(replies.data?.[0]).toBe(250);
      const content = (await trusting.stored(queueIdOf(replies.data?.[1] ?? ''))).toString('utf8');
      expect(content).not.toContain('Authentication-Results');
    } finally {
      await trusting.close();
    }
  });
});

// Last: the delivery agent, once started, delivers (and releases) whatever the relay queued.
describe('quarantine', () => {
  it('p=quarantine: queued, and the delivery agent stores it in the recipient\'s .Junk folder', { timeout: 30_000 }, async () => {
    const replies = await smtplib(h.agent.port, unlisted, 'sam@quarantine.test', message({ from: 'sam@quarantine.test', subject: 'quarantined one' }));
    const queueId = queueIdOf(replies.data?.[1] ?? '');
    const [job] = await h.waitForJobs('delivery', 1, queueId);
    expect(job?.data.origin.quarantine).toBe(true);
    await startDeliveryAgent();
    const files = await waitForMail('.Junk');
    const contents = await Promise.all(files.map((f) => readFile(f, 'utf8')));
    expect(contents.some((c) => c.includes('Subject: quarantined one') && /dmarc=fail/.test(c))).toBe(true);
    const inbox = await Promise.all((await waitForMail('', 0)).map((f) => readFile(f, 'utf8')));
    expect(inbox.some((c) => c.includes('Subject: quarantined one'))).toBe(false);
    expect(queuedLine(queueId)).toMatchObject({ quarantine: true, dmarc: { action: 'quarantine', reason: 'policy' } });
  });
});
