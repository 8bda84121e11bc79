/**
 * Mail traffic through a failover: Python's smtplib as remote MTAs sending to a stack's relay
 * port without pause, one message per session, each message's fate as the client saw it; and
 * the copies of each message in a user's Maildir, by Message-ID; and the settings of a stack
 * that takes such traffic behind Sentinel. The Sentinel test and the failover bench both count
 * 250s against deliveries with these.
 */
import { spawn } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { SentinelSetup } from '@mailway/testing/sentinel';

/** The settings of a stack on `sentinels` that one client sends to without pause through a failover. */
export function failoverStackEnv(sentinels: SentinelSetup): Record<string, string> {
  return {
    ...sentinels.env,
    // Behind Sentinel the URL gives only credentials, database and scheme: none here.
    REDIS_URL: 'redis://127.0.0.1',
    // One client sends all the traffic, a session per message.
    RELAY_CLIENT_CONNECTION_RATE: '0',
    // A job cut off by the failover is taken up again within seconds.
    RELAY_TRANSFER_LOCK_DURATION: '5s',
    RELAY_TRANSFER_STALLED_INTERVAL: '2s',
    DELIVERY_LOCK_DURATION: '5s',
    DELIVERY_STALLED_INTERVAL: '2s',
  };
}

/** One message's fate as the sending client saw it. */
export interface Sent {
  /** Its Message-ID, without the angle brackets. */
  readonly id: string;
  /** The reply to the end of data (or the refusal before it), 0 when the session broke before one came. */
  readonly code: number;
  readonly text: string;
  /** When its session was opened (ms since the epoch). */
  readonly started: number;
  /** When the reply came, or the session broke. */
  readonly at: number;
}

export interface TrafficOptions {
  /** The relay's port. */
  readonly port: number;
  readonly seconds: number;
  /** Senders at once, each one session at a time. */
  readonly threads: number;
  /** Message-IDs are `<label>.<thread>.<n>@remote.example`, so that runs can tell theirs apart. */
  readonly label?: string;
  /** A local address of the stack (default bob@example.org). */
  readonly to?: string;
}

/**
 * The senders: each one message per session to the recipient, until `seconds` have passed; one
 * JSON line per message. A sender that was not answered 250 pauses 100 ms before the next.
 */
const senderScript = String.raw`
import json, smtplib, sys, threading, time
port, seconds, threads, label, rcpt = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
deadline = time.time() + seconds
lock = threading.Lock()
def say(record):
    with lock:
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()
def send(worker):
    n = 0
    while time.time() < deadline:
        n += 1
        mid = "%s.%d.%d@remote.example" % (label, worker, n)
        body = "From: someone@remote.example\r\nTo: %s\r\nSubject: failover %d\r\nMessage-ID: <%s>\r\n\r\nsent while the primary may fail over\r\n" % (rcpt, n, mid)
        code, text = 0, ""
        started = int(time.time() * 1000)
        try:
            s = smtplib.SMTP("127.0.0.1", port, local_hostname="mx.remote.example", timeout=20)
            try:
                s.ehlo()
                c, _ = s.mail("someone@remote.example")
                if c == 250:
                    c, t = s.rcpt(rcpt)
                    code, text = (c, t.decode()) if c != 250 else s.data(body.encode())
                    text = text.decode() if isinstance(text, bytes) else text
                else:
                    code = c
                s.quit()
            finally:
                s.close()
        except Exception as e:
            text = repr(e)
        say({"id": mid, "code": code, "text": text, "started": started, "at": int(time.time() * 1000)})
        if code != 250:
            time.sleep(0.1)
ts = [threading.Thread(target=send, args=(i,)) for i in range(threads)]
[t.start() for t in ts]
[t.join() for t in ts]
`;

/** Runs the senders; resolves with every message's fate once they end. */
export function sendFor(options: TrafficOptions): Promise<Sent[]> {
  const { port, seconds, threads, label = 'sentinel', to = 'bob@example.org' } = options;
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', senderScript, String(port), String(seconds), String(threads), label, to], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Sent)) : reject(new Error(`sender exited ${code}: ${err}`))));
  });
}

/** Message-ID → copies in the Maildir (new/ and cur/) of `address` under a stack's MAILWAY_HOME. */
export async function copiesInMaildir(home: string, address = 'bob@example.org'): Promise<Map<string, number>> {
  const [user = '', domain = ''] = address.split('@');
  const root = join(home, 'mail', domain, user, 'Maildir');
  const copies = new Map<string, number>();
  for (const sub of ['new', 'cur']) {
    const names = await readdir(join(root, sub)).catch(() => [] as string[]);
    for (const name of names) {
      const id = /^Message-ID: <([^>]+)>/im.exec(await readFile(join(root, sub, name), 'latin1'))?.[1];
      if (id !== undefined) copies.set(id, (copies.get(id) ?? 0) + 1);
    }
  }
  return copies;
}
