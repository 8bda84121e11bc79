/**
 * A private Dovecot IMAP server for tests (`dovecot -F -c CONF`), serving the agent's Maildirs
 * on a loopback port: static password "secret" for every user, plaintext auth, no TLS. Mail
 * is read as the user running the tests, or, for root (which Dovecot never accepts as a mail
 * user, whatever first_valid_uid says), as nobody (65534): adopt() hands a tree over to it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export const dovecotBinary = ['/usr/sbin/dovecot', '/usr/local/sbin/dovecot'].find((path) => existsSync(path)) ?? null;

export interface Dovecot {
  readonly port: number;
  /** Makes the mail under `path` readable by Dovecot's mail user. */
  adopt(path: string): Promise<void>;
  /** Dovecot's log so far, for failure messages. */
  log(): Promise<string>;
  stop(): Promise<void>;
}

/** Starts Dovecot over the mailboxes under `root` (`root/%d/%n/Maildir`). */
export async function startDovecot(root: string): Promise<Dovecot> {
  if (dovecotBinary === null) throw new Error('dovecot is not installed');
  const dir = await mkdtemp(join(tmpdir(), 'mailway-dovecot-'));
  const port = await freePort();
  const me = userInfo();
  const { uid, gid } = me.uid === 0 ? { uid: 65534, gid: 65534 } : me;
  await mkdir(join(dir, 'run'));
  const conf = join(dir, 'dovecot.conf');
  await writeFile(
    conf,
    `
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
auth_mechanisms = plain
disable_plaintext_auth = no
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:${root}/%d/%n/Maildir
passdb {
  driver = static
  args = password=secret
}
userdb {
  driver = static
  args = uid=${uid} gid=${gid} home=${root}/%d/%n
}
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
  await waitForPort(port, () => (proc.exitCode !== null ? `dovecot exited: ${errors}` : null));
  return {
    port,
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

/** Resolves once something accepts connections on the port; rejects when `failed` says so. */
async function waitForPort(port: number, failed: () => string | null): Promise<void> {
  const { connect } = await import('node:net');
  for (let i = 0; i < 200; i += 1) {
    const problem = failed();
    if (problem !== null) throw new Error(problem);
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect({ port, host: '127.0.0.1' });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`dovecot did not listen on ${port}`);
}
