/**
 * Reads a delivery status notification the way a program receiving it would: with Python's
 * `email` package, an independent parser that splits message/delivery-status into one block
 * per recipient.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Parsed {
  readonly headers: Record<string, string>;
  readonly contentType: string;
  readonly reportType: string;
  readonly parts: string[];
  readonly human: string;
  readonly perMessage: Record<string, string>;
  readonly perRecipient: Array<Record<string, string>>;
  readonly returned: string;
}

/** Parses `dsn` with Python's email package and returns what a program reading it would see. */
export async function parseDsn(dsn: Buffer): Promise<Parsed> {
  const script = `
import email, email.policy, json, sys
msg = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.compat32)
parts = msg.get_payload()
status = parts[1].get_payload()
blocks = [{k: str(v) for k, v in b.items()} for b in status]
third = parts[2]
if third.get_content_type() in ('message/rfc822', 'message/global'):
    returned = third.get_payload(0).as_bytes().decode('utf-8', 'replace')
else:
    returned = third.get_payload(decode=True).decode('utf-8', 'replace')
print(json.dumps({
  'headers': {k: str(v) for k, v in msg.items() if k != 'Content-Type'},
  'contentType': msg.get_content_type(),
  'reportType': msg.get_param('report-type'),
  'parts': [p.get_content_type() for p in parts],
  'human': parts[0].get_payload(decode=True).decode('utf-8'),
  'perMessage': blocks[0],
  'perRecipient': blocks[1:],
  'returned': returned,
}))
`;
  const child = run('python3', ['-c', script], { maxBuffer: 16 * 1024 * 1024 });
  child.child.stdin?.end(dsn);
  return JSON.parse((await child).stdout) as Parsed;
}

