/**
 * DNS for tests: a real resolver (dnsmasq, Debian's package) on a loopback port serving the
 * records a test gives for names under `.test`, and a broken one (SERVFAIL to everything, or
 * silence) for the failures a mail server must treat as temporary.
 *
 * Point node:dns at either with `new Resolver(); resolver.setServers([server.address])`.
 * `dnsmasqForTests` gives a file its dnsmasq, and the port its MX hosts share, for all its tests.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { heldForTests } from './held.js';
import { sharedPort } from './ports.js';

export interface TestDns {
  /** `127.0.0.1:PORT`, for `Resolver.setServers`. */
  readonly address: string;
  /** A resolver pointed at this server, with a short timeout and one try. */
  resolver(): Resolver;
  stop(): Promise<void>;
}

export interface DnsRecords {
  /** MX records: `[domain, exchange, preference]`; an exchange of `.` is a null MX (RFC 7505). */
  readonly mx?: ReadonlyArray<readonly [string, string, number]>;
  /** Address records: a name and its IPv4 and IPv6 addresses. */
  readonly hosts?: ReadonlyArray<readonly [string, ...string[]]>;
  /**
   * TXT records: a name and its text (a name that has only TXT exists, with no MX or address).
   * The text goes to dnsmasq as it is (no shell, so no quotes): a comma starts a new
   * character-string, which readers such as SPF and DKIM join again.
   */
  readonly txt?: ReadonlyArray<readonly [string, string]>;
  /** Names (and every name below them) that do not exist: NXDOMAIN. */
  readonly nxdomain?: readonly string[];
  /** Names (and every name below them) asked of another server (`127.0.0.1:PORT`), e.g. a broken one. */
  readonly forward?: ReadonlyArray<readonly [string, string]>;
}

/**
 * Starts dnsmasq answering for `.test` from `records` only: a name it has no record of is
 * NXDOMAIN, a type it has none of is NODATA, nothing is forwarded anywhere.
 */
export async function startDnsmasq(records: DnsRecords): Promise<TestDns> {
  const args = ['--no-daemon', '--conf-file=/dev/null', '--listen-address=127.0.0.1', '--bind-interfaces', '--no-resolv', '--no-hosts', '--local=/test/', '--log-facility=-'];
  for (const [domain, exchange, preference] of records.mx ?? []) args.push(`--mx-host=${domain},${exchange},${preference}`);
  for (const [name, ...addresses] of records.hosts ?? []) args.push(`--host-record=${name},${addresses.join(',')}`);
  for (const [name, text] of records.txt ?? []) args.push(`--txt-record=${name},${text}`);
  for (const name of records.nxdomain ?? []) args.push(`--address=/${name}/`);
  for (const [name, server] of records.forward ?? []) args.push(`--server=/${name}/${server.replace(':', '#')}`);

  // A free port can be taken between asking and binding: try a few.
  for (let attempt = 0; ; attempt += 1) {
    const port = await freeUdpPort();
    const child = spawn('dnsmasq', [...args, `--port=${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const server = testDns(`127.0.0.1:${port}`, () => stopChild(child));
    if (await answers(server, child)) return server;
    await server.stop();
    if (attempt >= 4) throw new Error(`dnsmasq did not start: ${stderr.trim()}`);
  }
}

/** What `dnsmasqForTests` gives the tests: the server, and the port its MX hosts share. */
export interface DnsForTests {
  readonly dns: TestDns;
  /** A TCP port free on every address given as `portOn`. */
  readonly port: number;
}

/**
 * For the tests of this file or block: dnsmasq serving `records`, started before them and
 * stopped after, and, with `portOn`, one port free on each of those addresses for the hosts the
 * records name (MX hosts are all reached on one port). Read `dns` and `port` inside the tests.
 */
export function dnsmasqForTests(records: DnsRecords, portOn: readonly string[] = []): DnsForTests {
  const held = heldForTests(
    'dnsmasq',
    async () => ({ dns: await startDnsmasq(records), port: portOn.length > 0 ? await sharedPort(portOn) : null }),
    ({ dns }) => dns.stop(),
  );
  return {
    get dns() {
      return held.current.dns;
    },
    get port() {
      const { port } = held.current;
      if (port === null) throw new Error('no addresses were given to find a port on');
      return port;
    },
  };
}

/** A DNS server on a loopback port that answers every query with SERVFAIL, or never answers. */
export async function startBrokenDns(mode: 'servfail' | 'silent'): Promise<TestDns> {
  const socket = createSocket('udp4');
  socket.on('message', (query, peer) => {
    if (mode === 'silent' || query.length < 12) return;
    socket.send(servfail(query), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  return testDns(`127.0.0.1:${port}`, () => new Promise<void>((resolve) => socket.close(() => resolve())));
}

/**
 * A DNS server that answers SERVFAIL until `heal()` is called, then passes every query on to
 * `upstream` and its answer back: a resolver that fails for a while and recovers.
 */
export async function startFlakyDns(upstream: TestDns): Promise<TestDns & { heal(): void }> {
  const [upstreamHost = '127.0.0.1', upstreamPort = '53'] = upstream.address.split(':');
  const front = createSocket('udp4');
  const back = createSocket('udp4');
  // Queries passed on, by DNS id: who asked.
  const asked = new Map<number, { port: number; address: string }>();
  let failing = true;
  front.on('message', (query, peer) => {
    if (query.length < 12) return;
    if (failing) {
      front.send(servfail(query), peer.port, peer.address);
      return;
    }
    asked.set(query.readUInt16BE(0), { port: peer.port, address: peer.address });
    back.send(query, Number(upstreamPort), upstreamHost);
  });
  back.on('message', (answer) => {
    const peer = asked.get(answer.readUInt16BE(0));
    if (peer === undefined) return;
    asked.delete(answer.readUInt16BE(0));
    front.send(answer, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => front.bind(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => back.bind(0, '127.0.0.1', resolve));
  const close = (socket: ReturnType<typeof createSocket>): Promise<void> => new Promise<void>((resolve) => socket.close(() => resolve()));
  return {
    ...testDns(`127.0.0.1:${front.address().port}`, async () => {
      await Promise.all([close(front), close(back)]);
    }),
    heal: () => {
      failing = false;
    },
  };
}

/** `query` turned into its SERVFAIL response: QR set, opcode and RD kept, RA set, RCODE 2, no records. */
function servfail(query: Buffer): Buffer {
  const response = Buffer.from(query);
  response[2] = 0x80 | ((query[2] ?? 0) & 0x79);
  response[3] = 0x80 | 0x02;
  response.writeUInt16BE(0, 6);
  response.writeUInt16BE(0, 8);
  response.writeUInt16BE(0, 10);
  return response.subarray(0, questionEnd(query));
}

function testDns(address: string, stop: () => Promise<void>): TestDns {
  return {
    address,
    resolver() {
      const resolver = new Resolver({ timeout: 300, tries: 1 });
      resolver.setServers([address]);
      return resolver;
    },
    stop,
  };
}

/** Waits until the server answers a query (NXDOMAIN counts), or its process has exited. */
async function answers(server: TestDns, child: ChildProcess): Promise<boolean> {
  const resolver = server.resolver();
  for (let i = 0; i < 50; i += 1) {
    if (child.exitCode !== null) return false;
    try {
      await resolver.resolve4('probe.invalid.test');
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOTFOUND' || code === 'ENODATA') return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await exited;
}

async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** Offset just past the first question of a DNS message (header 12 octets, QNAME, QTYPE, QCLASS). */
function questionEnd(message: Buffer): number {
  let offset = 12;
  while (offset < message.length) {
    const length = message[offset] ?? 0;
    offset += 1 + length;
    if (length === 0) break;
  }
  return Math.min(offset + 4, message.length);
}
