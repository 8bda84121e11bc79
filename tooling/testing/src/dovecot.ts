/**
 * A private Dovecot for tests (`dovecot -F -c CONF`): IMAP on a loopback port over the
 * Maildirs under a root (`root/%d/%n/Maildir`), and, when asked, LMTP into them on another
 * loopback port and on a UNIX-domain socket (Debian's dovecot-lmtpd). Password "secret" for
 * every user, plaintext auth, no TLS. Every user exists, unless `users` names the only ones
 * that do (LMTP then refuses any other recipient, 550 5.1.1). Mail is read and written as the
 * user running the tests, or, for root (which Dovecot never accepts as a mail user, whatever
 * first_valid_uid says), as nobody (65534): adopt() hands a tree over to it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { untilListening } from './listening.js';

export const dovecotBinary = ['/usr/sbin/dovecot', '/usr/local/sbin/dovecot'].find((path) => existsSync(path)) ?? null;

/** Whether Dovecot's LMTP server is installed too (`lmtp: true` needs it). */
export const dovecotLmtp = dovecotBinary !== null && ['/usr/lib/dovecot/lmtp', '/usr/libexec/dovecot/lmtp', '/usr/local/libexec/dovecot/lmtp'].some((path) => existsSync(path));

export interface DovecotOptions {
  /** Also serve LMTP, on a loopback port and on a UNIX-domain socket. */
  readonly lmtp?: boolean;
  /** The only users that exist (full addresses); every user exists when not given. */
  readonly users?: readonly string[];
}

export interface Dovecot {
  /** IMAP, on 127.0.0.1. */
  readonly port: number;
  /** LMTP on 127.0.0.1 and on a UNIX-domain socket, when asked for. */
  readonly lmtp: { readonly port: number; readonly socket: string } | null;
  /** Makes the mail under `path` readable by Dovecot's mail user. */
  adopt(path: string): Promise<void>;
  /** Dovecot's log so far, for failure messages. */
  log(): Promise<string>;
  stop(): Promise<void>;
}

/** Starts Dovecot over the mailboxes under `root` (`root/%d/%n/Maildir`). */
export async function startDovecot(root: string, options: DovecotOptions = {}): Promise<Dovecot> {
  if (dovecotBinary === null) throw new Error('dovecot is not installed');
  if (options.lmtp && !dovecotLmtp) throw new Error('dovecot-lmtpd is not installed');
  const dir = await mkdtemp(join(tmpdir(), 'mailway-dovecot-'));
  const port = await freePort();
  const lmtpPort = options.lmtp ? await freePort() : 0;
  const me = userInfo();
  const { uid, gid } = me.uid === 0 ? { uid: 65534, gid: 65534 } : me;
  await mkdir(join(dir, 'run'));

  // Users: anyone (static), or only those listed (a passwd-file; LMTP looks recipients up there).
  const fields = `uid=${uid} gid=${gid} home=${root}/%d/%n`;
  let users = `
passdb {
  driver = static
  args = password=secret
}
userdb {
  driver = static
  args = ${fields}
}`;
  if (options.users !== undefined) {
    // Read by the auth process, which runs as Dovecot's own unprivileged user.
    await chmod(dir, 0o755);
    await writeFile(join(dir, 'users'), options.users.map((user) => `${user}:{PLAIN}secret::::::\n`).join(''), { mode: 0o644 });
    users = `
passdb {
  driver = passwd-file
  args = ${dir}/users
}
userdb {
  driver = passwd-file
  args = ${dir}/users
  default_fields = ${fields}
}`;
  }
  const lmtp = options.lmtp
    ? `
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${lmtpPort}
  }
  unix_listener lmtp {
    mode = 0666
  }
}`
    : '';

  const conf = join(dir, 'dovecot.conf');
  await writeFile(
    conf,
    `
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
protocols = imap${options.lmtp ? ' lmtp' : ''}
listen = 127.0.0.1
ssl = no
auth_mechanisms = plain
disable_plaintext_auth = no
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:${root}/%d/%n/Maildir
${users}
${lmtp}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
service imap-login {
  chroot =
}
`,
  );
  const proc: ChildProcess = spawn(dovecotBinary, ['-F', '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let errors = '';
  proc.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const exited = (): string | null => (proc.exitCode !== null ? `dovecot exited: ${errors}` : null);
  await untilListening(port, { failed: exited, timeoutMs: 10_000 });
  if (options.lmtp) await untilListening(lmtpPort, { failed: exited, timeoutMs: 10_000 });
  return {
    port,
    lmtp: options.lmtp ? { port: lmtpPort, socket: join(dir, 'run', 'lmtp') } : null,
    adopt: (path) => (me.uid === 0 ? chownTree(path, uid, gid) : Promise.resolve()),
    log: () => readFile(join(dir, 'dovecot.log'), 'utf8').catch(() => ''),
    async stop() {
      proc.kill('SIGTERM');
      if (proc.exitCode === null) await new Promise((resolve) => proc.once('exit', resolve));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** chown -R. */
async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await chown(path, uid, gid);
  for (const entry of await readdir(path, { withFileTypes: true })) {
    if (entry.isDirectory()) await chownTree(join(path, entry.name), uid, gid);
    else await chown(join(path, entry.name), uid, gid);
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

