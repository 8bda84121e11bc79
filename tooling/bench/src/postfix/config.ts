/**
 * main.cf and master.cf of the private bench Postfix, in its two modes.
 *
 * Reads nothing; emits configuration text. Accepting only (the submission bench): no qmgr and no
 * delivery agent, so accepted mail stays in incoming/ (see postfix.ts). Delivering (the end-to-end
 * bench): qmgr and virtual(8) deliver the mail of one domain into Maildirs under a base folder.
 */

/** What a delivering instance accepts and where it stores it. */
export interface DeliverOptions {
  /** Mail for `${domain}`'s `${user}` lands in `${maildirBase}/${domain}/${user}/Maildir/`. */
  readonly maildirBase: string;
  readonly domain: string;
  /** Local parts of the domain's mailboxes; any other recipient there is refused at RCPT. */
  readonly users: readonly string[];
}

/** The account virtual(8) writes Maildirs as. */
export interface MailboxOwner {
  readonly uid: number;
  readonly gid: number;
}

/** main.cf: only what differs from Postfix's defaults, each with its reason. */
export function mainCf(dir: string, banner: string, deliver?: { options: DeliverOptions; owner: MailboxOwner }): string {
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
  if (deliver === undefined) {
    return `${common}# Nothing takes mail out of the queue, so nothing would hand cleanup its flow-control tokens.
in_flow_delay = 0
`;
  }
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

/** master.cf: the acceptance path, plus qmgr, virtual and the bounce family when delivering. */
export function masterCf(port: number, delivering: boolean): string {
  const accept = `# service        type       private unpriv chroot wakeup maxproc command
127.0.0.1:${port}  inet       n       -      n      -      -       smtpd
cleanup          unix       n       -      n      -      0       cleanup
rewrite          unix       -       -      n      -      -       trivial-rewrite
anvil            unix       -       -      n      -      1       anvil
postlog          unix-dgram n       -      n      -      1       postlogd
`;
  if (!delivering) return accept;
  // virtual runs as root (unpriv n) so that it can take on the mailbox owner's uid.
  return `${accept}qmgr             unix       n       -      n      300    1       qmgr
virtual          unix       -       n      n      -      -       virtual
bounce           unix       -       -      n      -      0       bounce
defer            unix       -       -      n      -      0       bounce
trace            unix       -       -      n      -      0       bounce
retry            unix       -       -      n      -      -       error
`;
}
