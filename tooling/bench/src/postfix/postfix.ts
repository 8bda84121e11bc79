/**
 * A private, throw-away Postfix instance for the submission bench: the system's Postfix
 * binaries, its own configuration, queue and data directories under a fresh temp dir.
 *
 * Reads /usr/sbin/postfix and the package's files (daemon_directory, meta_directory), never the
 * system instance's main.cf or queue; emits nothing but the instance handle. Postfix accepts mail
 * on 127.0.0.1:port from 127.0.0.0/8 for any domain and queues it durably (smtpd → cleanup →
 * trivial-rewrite, fsync'd queue file renamed into incoming/), and never delivers it.
 *
 * How "queued, not delivered" is done: master.cf has no qmgr and no delivery agents. smtpd and
 * cleanup then do exactly their normal work, and the queue file stays in incoming/ where it is
 * counted. The only difference from a full Postfix is that cleanup's wake-up of the missing qmgr
 * fails (one warning log line per message). The alternatives add work a submission does not do:
 * HOLD adds an access-restriction lookup and a log line per message; defer_transports lets qmgr
 * move every message to active/ and deferred/ and write a defer log.
 *
 * in_flow_delay = 0: cleanup otherwise waits up to 1 s per message for a token that qmgr hands
 * out as it takes mail from the queue; with no qmgr that caps each session at 1 msg/s. A real
 * Postfix ties its acceptance rate to its delivery rate this way; the bench measures acceptance.
 *
 * The caller stops the instance; if the process exits first, an exit hook kills the master's
 * process group and removes the directory. Postfix only prints errors to a terminal, so start-up
 * failures quote the instance's maillog instead.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';

export interface PostfixInstance {
  readonly port: number;
  /** The instance's root: etc/ (config_directory), queue/, data/, maillog. */
  readonly dir: string;
  /** Messages fully written to the queue. */
  queuedCount(): Promise<number>;
  /** Stop Postfix and remove the directory. */
  stop(): Promise<void>;
}

const postfixPath = '/usr/sbin/postfix';
const startTimeoutMs = 20_000;
const stopTimeoutMs = 10_000;
/** Queues a message can be in; only incoming/ is used while qmgr is absent. */
const queueNames = ['incoming', 'active', 'deferred', 'hold'] as const;

/** main.cf: only what differs from Postfix's defaults, each with its reason. */
function mainCf(dir: string, banner: string): string {
  return `# Private Postfix instance for the Mailway submission bench. Removed when the bench ends.
compatibility_level = 3.6
queue_directory = ${join(dir, 'queue')}
data_directory = ${join(dir, 'data')}
# Log to a file: there is no syslog daemon to rely on, and start-up errors are read from it.
maillog_file = ${join(dir, 'maillog')}
maillog_file_prefixes = ${dir}
myhostname = bench.mailway.invalid
smtpd_banner = $myhostname ESMTP ${banner}
# Relay for 127.0.0.0/8 to any domain; nothing is local.
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
relay_domains =
local_recipient_maps =
alias_maps =
alias_database =
smtpd_relay_restrictions = permit_mynetworks, reject
# No DNS: no reverse lookup of clients; the SMTP client (never started) would not use DNS either.
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
smtp_host_lookup = native
# Nothing takes mail out of the queue, so nothing would hand cleanup its flow-control tokens.
in_flow_delay = 0
`;
}

/** master.cf: the services on the acceptance path and nothing else (no qmgr, no delivery). */
function masterCf(port: number): string {
  return `# service        type       private unpriv chroot wakeup maxproc command
127.0.0.1:${port}  inet       n       -      n      -      -       smtpd
cleanup          unix       n       -      n      -      0       cleanup
rewrite          unix       -       -      n      -      -       trivial-rewrite
anvil            unix       -       -      n      -      1       anvil
postlog          unix-dgram n       -      n      -      1       postlogd
`;
}

/** Start a private Postfix listening on 127.0.0.1:port; resolves once it greets. */
export async function startPostfix(options: { port: number }): Promise<PostfixInstance> {
  const { port } = options;
  const dir = await mkdtemp(join(tmpdir(), 'mailway-postfix-'));
  const etc = join(dir, 'etc');
  const queue = join(dir, 'queue');
  const banner = `mailway-bench-${basename(dir)}`;
  let starter: ChildProcess | undefined;
  let masterPid: number | undefined;
  let stopped = false;

  // Last resort when the process ends without stop(): synchronous, by process group and path.
  const onExit = (): void => {
    if (masterPid !== undefined) killGroup(masterPid);
    starter?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // Ask Postfix to stop as an administrator would, then make sure nothing is left.
    await promisify(execFile)(postfixPath, ['-c', etc, 'stop']).catch(() => undefined);
    if (starter) await exited(starter, stopTimeoutMs);
    if (masterPid !== undefined) killGroup(masterPid);
    starter?.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    process.off('exit', onExit);
  };

  try {
    // Lay out the instance. Daemons run as user postfix and must traverse to queue/.
    await chmod(dir, 0o755);
    await mkdir(etc, { mode: 0o755 });
    await mkdir(queue, { mode: 0o755 });
    await writeFile(join(etc, 'main.cf'), mainCf(dir, banner));
    await writeFile(join(etc, 'master.cf'), masterCf(port));

    // start-fg checks the instance (creating the queue subdirectories) and keeps master -s, a
    // session leader, as its child.
    starter = spawn(postfixPath, ['-c', etc, 'start-fg'], { stdio: 'ignore' });
    await waitForGreeting(port, banner, starter);
    masterPid = Number((await readFile(join(queue, 'pid', 'master.pid'), 'utf8')).trim());
  } catch (error) {
    const log = await readFile(join(dir, 'maillog'), 'utf8').catch(() => '');
    await stop();
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`Postfix did not start on 127.0.0.1:${port}: ${reason}${log ? `\n${tail(log, 10)}` : ''}`);
  }

  return {
    port,
    dir,
    queuedCount: () => countQueued(queue),
    stop,
  };
}

/** Count complete queue files: Postfix sets a queue file's owner-execute bit once it is fully written. */
async function countQueued(queue: string): Promise<number> {
  let count = 0;
  for (const name of queueNames) {
    const root = join(queue, name);
    for (const entry of await readdir(root, { recursive: true })) {
      const info = await stat(join(root, entry));
      if (info.isFile() && (info.mode & 0o100) !== 0) count += 1;
    }
  }
  return count;
}

/** Poll until our smtpd greets on the port; fails when the starter exits or time runs out. */
async function waitForGreeting(port: number, banner: string, starter: ChildProcess): Promise<void> {
  const deadline = Date.now() + startTimeoutMs;
  let last = 'no connection';
  while (Date.now() < deadline) {
    if (starter.exitCode !== null || starter.signalCode !== null) {
      throw new Error(`postfix start-fg exited (${starter.exitCode ?? starter.signalCode})`);
    }
    try {
      const greeting = await readGreeting(port);
      // Another server on the port would greet too: ours names its instance.
      if (greeting.startsWith('220 ') && greeting.includes(banner)) return;
      last = `unexpected greeting: ${greeting}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no greeting within ${startTimeoutMs} ms (${last})`);
}

/** Connect, read the first reply line, say QUIT. */
function readGreeting(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let text = '';
    socket.setTimeout(2000, () => socket.destroy(new Error('greeting timed out')));
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const eol = text.indexOf('\r\n');
      if (eol < 0) return;
      socket.end('QUIT\r\n');
      resolve(text.slice(0, eol));
    });
    socket.on('close', () => reject(new Error('closed before greeting')));
  });
}

/** Resolve when the child has exited, or after `ms`. */
function exited(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** SIGKILL the master's process group: master -s leads its own session, its daemons are members. */
function killGroup(pid: number): void {
  if (!Number.isInteger(pid) || pid <= 1) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** The last `lines` lines of a log. */
function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
