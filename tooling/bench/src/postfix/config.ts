/**
 * main.cf and master.cf of the private bench Postfix, in its two modes.
 *
 * Reads nothing; emits configuration text. Accepting only (the submission bench): no qmgr and no
 * delivery agent, so accepted mail stays in incoming/ (see postfix.ts). Delivering (the end-to-end
 * bench): qmgr and virtual(8) deliver the mail of one domain into Maildirs under a base folder.
 * Relaying (the outbound bench): accepting only at first; then qmgr and smtp(8) send everything
 * queued to one next hop, with Postfix's defaults for the SMTP client.
 */

/** What a delivering instance accepts and where it stores it. */
export interface DeliverOptions {
  /** Mail for `${domain}`'s `${user}` lands in `${maildirBase}/${domain}/${user}/Maildir/`. */
  readonly maildirBase: string;
  readonly domain: string;
  /** Local parts of the domain's mailboxes; any other recipient there is refused at RCPT. */
  readonly users: readonly string[];
}

/** Where a relaying instance sends all mail, once released. */
export interface RelayOptions {
  /** The next hop, as Postfix writes it: `[127.0.0.1]:2525` (that address, no MX lookup). */
  readonly nexthop: string;
  /** Parallel deliveries to it (default_destination_concurrency_limit; Postfix's default is 20). */
  readonly concurrency: number;
  /** False: a new connection per message (smtp_connection_cache_on_demand = no). */
  readonly reuse?: boolean;
}

/** The account virtual(8) writes Maildirs as. */
export interface MailboxOwner {
  readonly uid: number;
  readonly gid: number;
}

/** main.cf: only what differs from Postfix's defaults, each with its reason. */
export function mainCf(dir: string, banner: string, deliver?: { options: DeliverOptions; owner: MailboxOwner }, relay?: RelayOptions): string {
  const common = `# Private Postfix instance for a Mailway bench. Removed when the bench ends.
compatibility_level = 3.6
queue_directory = ${dir}/queue
data_directory = ${dir}/data
# Log to a file: there is no syslog daemon to rely on, and start-up errors are read from it.
maillog_file = ${dir}/maillog
maillog_file_prefixes = ${dir}
myhostname = bench.mailway.invalid
smtpd_banner = $myhostname ESMTP ${banner}
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
`;
  const noFlowControl = `# Nothing takes mail out of the queue, so nothing would hand cleanup its flow-control tokens.
in_flow_delay = 0
`;
  if (relay !== undefined) {
    return `${common}${noFlowControl}# Once released, everything goes to one next hop; every other smtp_* setting keeps its default
# (connection caching on demand, no TLS, initial_destination_concurrency 5).
relayhost = ${relay.nexthop}
default_destination_concurrency_limit = ${relay.concurrency}
${relay.reuse === false ? 'smtp_connection_cache_on_demand = no\n' : ''}`;
  }
  if (deliver === undefined) return `${common}${noFlowControl}`;
  // One inline map entry per mailbox; the trailing '/' makes virtual(8) write a Maildir.
  const { domain, users, maildirBase } = deliver.options;
  const mailboxes = users.map((user) => `${user}@${domain}=${domain}/${user}/Maildir/`).join(', ');
  return `${common}# Deliver ${domain} with virtual(8); in_flow_delay keeps its default, qmgr hands out the tokens.
virtual_mailbox_domains = ${domain}
virtual_mailbox_base = ${maildirBase}
virtual_mailbox_maps = inline:{ ${mailboxes} }
virtual_uid_maps = static:${deliver.owner.uid}
virtual_gid_maps = static:${deliver.owner.gid}
# Nothing is flushed on demand (ETRN), so no flush logs for deferred mail.
fast_flush_domains =
`;
}

/** Which daemons run besides the acceptance path: none, virtual(8) into Maildirs, or smtp(8) to a next hop. */
export type Services = 'accept' | 'virtual' | 'smtp';

/** master.cf: the acceptance path, plus qmgr, the delivery agent and the bounce family when delivering. */
export function masterCf(port: number, services: Services): string {
  const accept = `# service        type       private unpriv chroot wakeup maxproc command
127.0.0.1:${port}  inet       n       -      n      -      -       smtpd
cleanup          unix       n       -      n      -      0       cleanup
rewrite          unix       -       -      n      -      -       trivial-rewrite
anvil            unix       -       -      n      -      1       anvil
postlog          unix-dgram n       -      n      -      1       postlogd
`;
  if (services === 'accept') return accept;
  const delivery =
    services === 'virtual'
      ? // virtual runs as root (unpriv n) so that it can take on the mailbox owner's uid.
        `virtual          unix       -       n      n      -      -       virtual
`
      : // scache holds the connections smtp(8) caches between deliveries (smtp_connection_cache_on_demand).
        `smtp             unix       -       -      n      -      -       smtp
scache           unix       -       -      n      -      1       scache
`;
  return `${accept}qmgr             unix       n       -      n      300    1       qmgr
${delivery}bounce           unix       -       -      n      -      0       bounce
defer            unix       -       -      n      -      0       bounce
trace            unix       -       -      n      -      0       bounce
retry            unix       -       -      n      -      -       error
`;
}
