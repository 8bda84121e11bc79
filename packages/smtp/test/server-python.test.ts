/**
 * The Mailway server against Python's smtplib, an independent client, on 127.0.0.1.
 *
 * Proves: STARTTLS with AUTH PLAIN and AUTH LOGIN (each step by step, answering 334 challenges)
 * and a certificate Python verifies; 535 5.7.8 for a wrong password; SMTP_SSL carrying the
 * text corpus byte for byte; the refused-recipients dict of `sendmail`; LMTP with one reply per
 * accepted recipient after the data (read one by one, so a missing or extra reply shows); and
 * SMTPUTF8 with UTF-8 addresses (and 553 5.6.7 for the same address without it).
 *
 * Python runs one scenario per process (`python3 - <scenario> <json>`, the script on stdin) and
 * prints one JSON line with what it saw; the test compares that and what the server's hooks got.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { accept, defer, reject, type ServerOptions, type Verdict } from '../src/server/index.js';
import { textCorpus } from './corpus.js';
import { selfSignedCert, type TestCertificate } from './helpers/certs.js';
import { startServer, type TestServer } from './support/server.js';

/** The client side: one function per scenario, each printing a JSON result. */
const clientScript = String.raw`
import base64, json, smtplib, ssl, sys

scenario, args = sys.argv[1], json.loads(sys.argv[2])
host, port = '127.0.0.1', args['port']

def context():
    ctx = ssl.create_default_context(cafile=args['ca'])
    return ctx

def reply(pair):
    code, text = pair
    return [code, text.decode('utf-8') if isinstance(text, bytes) else text]

def refused(result):
    return {k: reply(v) for k, v in result.items()}

def read(path):
    with open(path, 'rb') as f:
        return f.read()

def starttls_auth():
    s = smtplib.SMTP(host, port, local_hostname='client.test')
    before = s.ehlo()[0]
    features_before = sorted(s.esmtp_features)
    s.starttls(context=context())
    s.ehlo()
    s.user, s.password = args['user'], args['password']
    mechanism = args['mechanism']
    authobject = s.auth_plain if mechanism == 'PLAIN' else s.auth_login
    try:
        auth = reply(s.auth(mechanism, authobject, initial_response_ok=False))
    except smtplib.SMTPAuthenticationError as e:
        print(json.dumps({'authError': [e.smtp_code, e.smtp_error.decode()], 'quit': reply(s.quit())}))
        return
    result = s.sendmail(args['from'], args['to'], read(args['message']))
    print(json.dumps({
        'ehlo': before, 'featuresBefore': features_before, 'featuresAfter': sorted(s.esmtp_features),
        'tls': s.sock.version(), 'auth': auth, 'refused': refused(result), 'quit': reply(s.quit()),
    }))

def smtp_ssl_corpus():
    s = smtplib.SMTP_SSL(host, port, local_hostname='client.test', context=context())
    s.ehlo()
    results = []
    for item in args['messages']:
        options = ['BODY=8BITMIME'] if item['eightBit'] else []
        results.append(refused(s.sendmail(args['from'], args['to'], read(item['path']), mail_options=options)))
    print(json.dumps({'tls': s.sock.version(), 'refused': results, 'quit': reply(s.quit())}))

def all_refused():
    s = smtplib.SMTP(host, port, local_hostname='client.test')
    try:
        s.sendmail(args['from'], args['to'], b'Subject: x\r\n\r\nx\r\n')
        outcome = None
    except smtplib.SMTPRecipientsRefused as e:
        outcome = refused(e.recipients)
    print(json.dumps({'refused': outcome, 'rset': reply(s.rset()), 'quit': reply(s.quit())}))

def lmtp():
    s = smtplib.LMTP(host, port, local_hostname='client.test')
    lhlo = s.ehlo()[0]
    mail = reply(s.mail(args['from']))
    rcpts = [reply(s.rcpt(r)) for r in args['to']]
    accepted = sum(1 for code, _ in rcpts if code == 250)
    s.putcmd('data')
    start = reply(s.getreply())
    body = read(args['message']).replace(b'\r\n.', b'\r\n..')
    s.send(body + b'.\r\n')
    after = [reply(s.getreply()) for _ in range(accepted)]
    print(json.dumps({'lhlo': lhlo, 'mail': mail, 'rcpt': rcpts, 'data': start, 'afterData': after, 'noop': reply(s.noop()), 'quit': reply(s.quit())}))

def smtputf8():
    s = smtplib.SMTP(host, port, local_hostname='client.test')
    s.ehlo()
    offered = s.has_extn('smtputf8')
    result = s.sendmail(args['from'], args['to'], read(args['message']), mail_options=['SMTPUTF8', 'BODY=8BITMIME'])
    # The same sender without SMTPUTF8, sent raw (smtplib would refuse to encode it).
    s.command_encoding = 'utf-8'
    without = reply(s.docmd('MAIL', 'FROM:<' + args['from'] + '>'))
    print(json.dumps({'offered': offered, 'refused': refused(result), 'without': without, 'quit': reply(s.quit())}))

globals()[scenario]()
`;

interface PythonRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs one client scenario in python3 and returns its exit status and output. */
function runPython(scenario: string, args: Record<string, unknown>, timeoutMs = 20_000): Promise<PythonRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-', scenario, JSON.stringify(args)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(clientScript);
  });
}

/** The JSON line a successful scenario printed. */
function result(run: PythonRun): Record<string, unknown> {
  expect(run.stderr, run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout.trim()) as Record<string, unknown>;
}

let cert: TestCertificate;
let dir: string;
let caPath: string;
const servers: TestServer[] = [];

beforeAll(async () => {
  cert = await selfSignedCert();
  dir = await mkdtemp(join(tmpdir(), 'mailway-python-'));
  caPath = join(dir, 'ca.pem');
  await writeFile(caPath, cert.cert);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

/** A server with TLS, accepting user `alice`/`s3cret` and refusing recipients named `nobody`. */
async function start(options: ServerOptions = {}): Promise<TestServer> {
  const server = await startServer({
    tls: { key: cert.key, cert: cert.cert },
    ...options,
    hooks: {
      onAuth: (_session, c) => (c.username === 'alice' && c.password === 's3cret' ? accept() : reject(535, '5.7.8', 'Authentication credentials invalid')),
      onRcptTo: (_session, _tx, r) => (r.address.local === 'nobody' ? reject(550, '5.1.1', 'No such user here') : undefined),
      ...options.hooks,
    },
  });
  servers.push(server);
  return server;
}

/** Writes a message to the temp dir for Python to read. */
async function messageFile(name: string, bytes: Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

const dotty = Buffer.from('From: a@example.org\r\nSubject: dots\r\n\r\n.leading dot\r\n..two\r\n.\r\nlast\r\n');

describe('smtplib over STARTTLS with AUTH', () => {
  it.each(['PLAIN', 'LOGIN'])('AUTH %s step by step, then sendmail with one refused recipient', async (mechanism) => {
    const server = await start({ auth: { required: true } });
    const message = await messageFile(`starttls-${mechanism}.eml`, dotty);

    const out = result(
      await runPython('starttls_auth', {
        port: server.port,
        ca: caPath,
        user: 'alice',
        password: 's3cret',
        mechanism,
        from: 'a@example.org',
        to: ['b@mx.test', 'nobody@mx.test', 'c@mx.test'],
        message,
      }),
    );

    expect(out).toEqual({
      ehlo: 250,
      featuresBefore: ['8bitmime', 'binarymime', 'chunking', 'dsn', 'enhancedstatuscodes', 'pipelining', 'size', 'smtputf8', 'starttls'],
      featuresAfter: ['8bitmime', 'auth', 'binarymime', 'chunking', 'dsn', 'enhancedstatuscodes', 'pipelining', 'requiretls', 'size', 'smtputf8'],
      tls: expect.stringMatching(/^TLSv1\.[23]$/),
      auth: [235, '2.7.0 Authentication successful'],
      refused: { 'nobody@mx.test': [550, '5.1.1 No such user here'] },
      quit: [221, '2.0.0 mx.test closing connection'],
    });
    expect(server.received).toHaveLength(1);
    expect(server.received[0]?.to).toEqual(['b@mx.test', 'c@mx.test']);
    expect(server.received[0]?.body.equals(dotty)).toBe(true);
  });

  it.each(['PLAIN', 'LOGIN'])('AUTH %s with a wrong password: SMTPAuthenticationError 535 5.7.8', async (mechanism) => {
    const server = await start({ auth: { required: true } });

    const out = result(
      await runPython('starttls_auth', { port: server.port, ca: caPath, user: 'alice', password: 'guess', mechanism, from: 'a@example.org', to: ['b@mx.test'], message: '' }),
    );

    expect(out).toEqual({ authError: [535, '5.7.8 Authentication credentials invalid'], quit: [221, '2.0.0 mx.test closing connection'] });
    expect(server.received).toEqual([]);
  });

  it('sendmail with every recipient refused raises SMTPRecipientsRefused and the session stays usable', async () => {
    const server = await start();

    const out = result(await runPython('all_refused', { port: server.port, from: 'a@example.org', to: ['nobody@mx.test'] }));

    expect(out).toEqual({
      refused: { 'nobody@mx.test': [550, '5.1.1 No such user here'] },
      rset: [250, '2.0.0 OK'],
      quit: [221, '2.0.0 mx.test closing connection'],
    });
    expect(server.received).toEqual([]);
  });
});

describe('smtplib.SMTP_SSL (implicit TLS)', () => {
  it('carries every text-corpus message byte for byte over one connection', async () => {
    const server = await start({ secure: true });
    const messages = await Promise.all(
      textCorpus.map(async (m, i) => ({ path: await messageFile(`corpus-${i}.eml`, m.bytes ?? Buffer.alloc(0)), eightBit: m.eightBit })),
    );

    const out = result(await runPython('smtp_ssl_corpus', { port: server.port, ca: caPath, from: 'a@example.org', to: ['b@mx.test'], messages }));

    expect(out).toEqual({
      tls: expect.stringMatching(/^TLSv1\.[23]$/),
      refused: textCorpus.map(() => ({})),
      quit: [221, '2.0.0 mx.test closing connection'],
    });
    expect(server.received.map((r) => r.body.length)).toEqual(textCorpus.map((m) => m.size));
    for (const [i, m] of textCorpus.entries()) expect(server.received[i]?.body.equals(m.bytes ?? Buffer.alloc(0)), m.name).toBe(true);
  });
});

describe('smtplib.LMTP', () => {
  it('gets one reply per accepted recipient after the data, in RCPT order, and nothing more', async () => {
    const bodies: Buffer[] = [];
    const server = await start({
      lmtp: true,
      hooks: {
        async onData(_session, tx, body): Promise<Verdict[]> {
          const chunks: Buffer[] = [];
          for await (const chunk of body) chunks.push(chunk);
          bodies.push(Buffer.concat(chunks));
          return tx.recipients.map((r) =>
            r.address.local === 'full' ? defer(452, '4.2.2', 'Mailbox full') : accept(`Delivered to ${r.address.local}`, 250, '2.1.5'),
          );
        },
      },
    });
    const message = await messageFile('lmtp.eml', dotty);

    const out = result(
      await runPython('lmtp', { port: server.port, from: 'a@example.org', to: ['alice@mx.test', 'nobody@mx.test', 'full@mx.test', 'bob@mx.test'], message }),
    );

    expect(out).toEqual({
      lhlo: 250,
      mail: [250, '2.1.0 Sender OK'],
      rcpt: [
        [250, '2.1.5 Recipient OK'],
        [550, '5.1.1 No such user here'],
        [250, '2.1.5 Recipient OK'],
        [250, '2.1.5 Recipient OK'],
      ],
      data: [354, 'End data with <CR><LF>.<CR><LF>'],
      afterData: [
        [250, '2.1.5 Delivered to alice'],
        [452, '4.2.2 Mailbox full'],
        [250, '2.1.5 Delivered to bob'],
      ],
      noop: [250, '2.0.0 OK'],
      quit: [221, '2.0.0 mx.test closing connection'],
    });
    expect(bodies).toHaveLength(1);
    expect(bodies[0]?.equals(dotty)).toBe(true);
  });
});

describe('smtplib with SMTPUTF8 (RFC 6531)', () => {
  it('delivers to and from UTF-8 addresses with SMTPUTF8, and refuses them without it', async () => {
    const server = await start();
    const from = 'jörg@exämple.org';
    const to = ['用户@例子.广告', 'δοκιμή@παράδειγμα.δοκιμή'];
    const body = Buffer.from(`From: ${from}\r\nTo: ${to.join(', ')}\r\nSubject: Grüße\r\n\r\nÜnïcödé\r\n`, 'utf8');
    const message = await messageFile('utf8.eml', body);

    const out = result(await runPython('smtputf8', { port: server.port, from, to, message }));

    expect(out).toEqual({
      offered: true,
      refused: {},
      without: [553, '5.6.7 Non-ASCII sender address requires SMTPUTF8'],
      quit: [221, '2.0.0 mx.test closing connection'],
    });
    expect(server.received).toHaveLength(1);
    expect(server.received[0]?.from).toBe(from);
    expect(server.received[0]?.to).toEqual(to);
    expect(server.received[0]?.body.equals(body)).toBe(true);
  });
});
