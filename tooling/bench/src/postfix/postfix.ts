/**
 * A private, throw-away Postfix instance for the benches: the system's Postfix binaries, its own
 * configuration, queue and data directories under a fresh temp dir.
 *
 * Reads /usr/sbin/postfix and the package's files (daemon_directory, meta_directory), never the
 * system instance's main.cf or queue; emits nothing but the instance handle. Postfix accepts mail
 * on 127.0.0.1:port from 127.0.0.0/8 and queues it durably (smtpd → cleanup → trivial-rewrite,
 * fsync'd queue file renamed into incoming/). Then, by mode:
 *
 * Accepting only (the submission bench; no `deliver`): mail for any domain is queued and never
 * delivered. master.cf has no qmgr and no delivery agents, so smtpd and cleanup do exactly their
 * normal work and the queue file stays in incoming/ where it is counted. The only difference from
 * a full Postfix is that cleanup's wake-up of the missing qmgr fails (one warning log line per
 * message). The alternatives add work a submission does not do: HOLD adds an access-restriction
 * lookup and a log line per message; defer_transports lets qmgr move every message to active/ and
 * deferred/ and write a defer log. in_flow_delay = 0: cleanup otherwise waits up to 1 s per
 * message for a token that qmgr hands out as it takes mail from the queue; with no qmgr that caps
 * each session at 1 msg/s.
 *
 * Delivering (the end-to-end bench; `deliver`): a full Postfix, qmgr and virtual(8), accepting
 * mail for one domain's listed users and storing it in `${maildirBase}/${domain}/${user}/Maildir/`.
 * virtual(8) writes each message to tmp/ as the mailbox owner, fsyncs the file (mail_copy with
 * MAIL_COPY_TOFILE), link()s it into new/ and unlinks the tmp/ name; it does not fsync the
 * directory. The owner is Postfix's default_privs account, nobody: virtual(8) refuses root. The
 * Maildirs are created before start, owned by it, so that a watcher can be set on new/ at once,
 * and the base is made traversable for it.
 * in_flow_delay keeps its default (1 s): qmgr hands cleanup a token for each message it takes in,
 * so senders wait only when delivery falls behind, as on a production Postfix.
 *
 * Relaying (the outbound bench; `relay`): accepting only, as above, with relayhost set to the
 * next hop; release() then adds qmgr, smtp(8), scache and the bounce family to master.cf and
 * reloads, and qmgr (started at once by its wake-up timer) sends everything in incoming/ there.
 * The SMTP client keeps Postfix's defaults; postconf() reads back what the instance uses.
 *
 * The caller stops the instance; if the process exits first, an exit hook kills the master's
 * process group and removes the directory (never the caller's Maildir base). Postfix only prints
 * errors to a terminal, so start-up failures quote the instance's maillog instead.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { type DeliverOptions, mainCf, type MailboxOwner, masterCf, type RelayOptions } from './config.js';

export type { DeliverOptions, RelayOptions } from './config.js';

export interface PostfixInstance {
  readonly port: number;
  /** The instance's root: etc/ (config_directory), queue/, data/, maillog. */
  readonly dir: string;
  /** The master's pid, which is also its process group: every Postfix daemon of the instance. */
  readonly masterPid: number;
  /** Messages fully written to the queue (and not yet delivered). */
  queuedCount(): Promise<number>;
  /** Relaying instance: start qmgr and smtp(8), which send the queued mail to the next hop. */
  release(): Promise<void>;
  /** The instance's values of some main.cf parameters (`postconf -h`), defaults included. */
  postconf(names: readonly string[]): Promise<Record<string, string>>;
  /** Stop Postfix and remove the directory. */
  stop(): Promise<void>;
}

const postfixPath = '/usr/sbin/postfix';
const startTimeoutMs = 20_000;
const stopTimeoutMs = 10_000;
/** Queues a message can be in; only incoming/ is used while qmgr is absent. */
const queueNames = ['incoming', 'active', 'deferred', 'hold'] as const;

/** Start a private Postfix listening on 127.0.0.1:port; resolves once it greets. */
export async function startPostfix(options: { port: number; deliver?: DeliverOptions; relay?: RelayOptions }): Promise<PostfixInstance> {
  const { port, deliver, relay } = options;
  if (deliver !== undefined && relay !== undefined) throw new Error('a bench Postfix either delivers to Maildirs or relays, not both');
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
    // Killed daemons may still be finishing a write: retry, and never throw from an exit hook.
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    } catch {
      // Left behind in the temp dir.
    }
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
    const owner = deliver ? await prepareMaildirs(deliver) : undefined;
    await writeFile(join(etc, 'main.cf'), mainCf(dir, banner, deliver && owner ? { options: deliver, owner } : undefined, relay));
    await writeFile(join(etc, 'master.cf'), masterCf(port, deliver === undefined ? 'accept' : 'virtual'));

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
    masterPid,
    queuedCount: () => countQueued(queue),
    async release() {
      if (relay === undefined) throw new Error('release() is for a relaying instance');
      await writeFile(join(etc, 'master.cf'), masterCf(port, 'smtp'));
      await promisify(execFile)(postfixPath, ['-c', etc, 'reload']);
    },
    async postconf(names) {
      const { stdout } = await promisify(execFile)('/usr/sbin/postconf', ['-c', etc, '-h', ...names]);
      const values = stdout.split('\n');
      return Object.fromEntries(names.map((name, i) => [name, values[i] ?? '']));
    },
    stop,
  };
}

/** Create each user's Maildir (tmp, new, cur) owned by the mailbox owner; returns that owner. */
async function prepareMaildirs(deliver: DeliverOptions): Promise<MailboxOwner> {
  const owner = await nobody();
  const domainDir = join(deliver.maildirBase, deliver.domain);
  await mkdir(domainDir, { recursive: true });
  // The owner must traverse the base (mkdtemp makes it 0700 for root).
  await chmod(deliver.maildirBase, (await stat(deliver.maildirBase)).mode | 0o111);
  await chown(domainDir, owner.uid, owner.gid);
  for (const user of deliver.users) {
    const maildir = join(domainDir, user, 'Maildir');
    for (const path of [join(domainDir, user), maildir, ...['tmp', 'new', 'cur'].map((sub) => join(maildir, sub))]) {
      await mkdir(path, { recursive: true, mode: 0o700 });
      await chown(path, owner.uid, owner.gid);
    }
  }
  return owner;
}

/** uid and gid of the account `nobody`, from /etc/passwd. */
export async function nobody(): Promise<MailboxOwner> {
  const line = (await readFile('/etc/passwd', 'utf8')).split('\n').find((entry) => entry.startsWith('nobody:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) throw new Error('no account "nobody" in /etc/passwd to own the Maildirs');
  return { uid: Number(uid), gid: Number(gid) };
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

/** Poll until a server that names `banner` greets on the port; fails when the starter exits or time runs out. */
export async function waitForGreeting(port: number, banner: string, starter: ChildProcess): Promise<void> {
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
