/**
 * A DNSSEC world for DANE tests: NSD (authoritative) serving the zone `test.`, signed with a
 * fresh key by ldns-signzone, and an unsigned child zone `insecure.test.` delegated without DS;
 * and unbound, a validating resolver that reaches `test.` through NSD and trusts that key
 * alone. Answers from `test.` come back with the AD bit, those from `insecure.test.` without.
 *
 * The tools come from Debian (nsd, unbound, ldnsutils; tooling/scripts/setup.sh installs them).
 * When one is missing, starting the world fails with a message that names it: DANE tests never
 * skip quietly.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dnssecResolver } from '../../src/outbound/security/dnssec-query.js';

export interface DnssecWorld {
  /** `127.0.0.1:PORT` of unbound, the validating resolver. */
  readonly resolver: string;
  /** `127.0.0.1:PORT` of NSD, which answers without validating (no AD bit). */
  readonly authority: string;
  stop(): Promise<void>;
}

const tools = ['/usr/sbin/nsd', '/usr/sbin/unbound', '/usr/bin/ldns-keygen', '/usr/bin/ldns-signzone'];

/**
 * Starts NSD and unbound for `records` (zone-file lines relative to `test.`) and `insecure`
 * (relative to `insecure.test.`). `tamper`: text replaced in the signed zone after signing, so
 * that the records there no longer match their signatures (bogus answers: SERVFAIL).
 */
export async function startDnssecWorld(records: readonly string[], insecure: readonly string[] = [], tamper: ReadonlyArray<readonly [string, string]> = []): Promise<DnssecWorld> {
  // Sanity checks: every tool is there.
  const missing = tools.filter((tool) => {
    try {
      accessSync(tool, constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) throw new Error(`DANE tests need ${missing.join(', ')}: run tooling/scripts/setup.sh (Debian packages nsd, unbound, ldnsutils)`);

  // The zones, the key, the signature.
  const dir = mkdtempSync(join(tmpdir(), 'mailway-dnssec-'));
  const soa = (origin: string) => [`$ORIGIN ${origin}`, '$TTL 300', `@ IN SOA ns.test. hostmaster.test. 1 3600 900 604800 300`, '@ IN NS ns.test.'];
  writeFileSync(join(dir, 'test.zone'), [...soa('test.'), 'ns IN A 127.0.0.1', 'insecure IN NS ns.test.', ...records, ''].join('\n'));
  writeFileSync(join(dir, 'insecure.zone'), [...soa('insecure.test.'), ...insecure, ''].join('\n'));
  const key = execFileSync('ldns-keygen', ['-a', 'ECDSAP256SHA256', '-k', 'test.'], { cwd: dir, encoding: 'utf8' }).trim();
  execFileSync('ldns-signzone', ['-o', 'test.', join(dir, 'test.zone'), join(dir, key)], { cwd: dir });
  writeFileSync(join(dir, 'anchor.key'), readFileSync(join(dir, `${key}.key`)));
  let signed = readFileSync(join(dir, 'test.zone.signed'), 'utf8');
  for (const [from, to] of tamper) {
    if (!signed.includes(from)) throw new Error(`nothing to tamper with: ${from} is not in the signed zone`);
    signed = signed.replaceAll(from, to);
  }
  writeFileSync(join(dir, 'test.zone.signed'), signed);

  // NSD, then unbound in front of it.
  const [nsdPort, unboundPort] = [await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'nsd.conf'),
    [
      'server:',
      `  ip-address: 127.0.0.1`,
      `  port: ${nsdPort}`,
      '  username: ""',
      '  database: ""',
      `  zonesdir: "${dir}"`,
      `  zonelistfile: "${dir}/zone.list"`,
      `  xfrdfile: "${dir}/xfrd.state"`,
      `  xfrdir: "${dir}"`,
      `  pidfile: "${dir}/nsd.pid"`,
      `  logfile: "${dir}/nsd.log"`,
      '  do-ip6: no',
      'remote-control:',
      '  control-enable: no',
      'zone:',
      '  name: "test."',
      '  zonefile: "test.zone.signed"',
      'zone:',
      '  name: "insecure.test."',
      '  zonefile: "insecure.zone"',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'unbound.conf'),
    [
      'server:',
      '  interface: 127.0.0.1',
      `  port: ${unboundPort}`,
      '  do-daemonize: no',
      '  username: ""',
      '  chroot: ""',
      `  directory: "${dir}"`,
      `  pidfile: "${dir}/unbound.pid"`,
      '  use-syslog: no',
      `  logfile: "${dir}/unbound.log"`,
      '  do-ip6: no',
      '  num-threads: 1',
      '  so-reuseport: no',
      '  qname-minimisation: no',
      '  do-not-query-localhost: no',
      '  access-control: 127.0.0.0/8 allow',
      '  local-zone: "test." nodefault',
      `  trust-anchor-file: "${dir}/anchor.key"`,
      '  module-config: "validator iterator"',
      '  val-log-level: 2',
      'remote-control:',
      '  control-enable: no',
      'stub-zone:',
      '  name: "test."',
      `  stub-addr: 127.0.0.1@${nsdPort}`,
      '',
    ].join('\n'),
  );
  const children: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(children.map((child) => stopChild(child)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    children.push(spawn('/usr/sbin/nsd', ['-d', '-c', join(dir, 'nsd.conf')], { stdio: 'ignore' }));
    children.push(spawn('/usr/sbin/unbound', ['-d', '-c', join(dir, 'unbound.conf')], { stdio: 'ignore' }));

    // Ready when unbound answers for the zone's key with the AD bit.
    const resolver = dnssecResolver(`127.0.0.1:${unboundPort}`, { timeout: 500, tries: 1 });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const answer = await resolver.query('test.', 'DNSKEY').catch(() => null);
      if (answer?.secure === true) break;
      if (Date.now() > deadline) {
        const log = (name: string): string => {
          try {
            return readFileSync(join(dir, name), 'utf8').slice(-2_000);
          } catch {
            return '(no log)';
          }
        };
        throw new Error(`unbound did not validate test. within 10 s (last answer: ${JSON.stringify(answer && { rcode: answer.rcode, secure: answer.secure })})\nnsd: ${log('nsd.log')}\nunbound: ${log('unbound.log')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { resolver: `127.0.0.1:${unboundPort}`, authority: `127.0.0.1:${nsdPort}`, stop };
}

/**
 * A port free on 127.0.0.1 now for both UDP and TCP (NSD and unbound bind both). A UDP port
 * the kernel hands out may be a TCP port another test's connection holds: such a port is
 * passed over.
 */
async function freePort(): Promise<number> {
  for (;;) {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const { port } = socket.address();
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    if (await tcpFree(port)) return port;
  }
}

function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
