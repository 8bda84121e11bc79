/**
 * `mailway domain|user|alias …`: manage the directory every agent reads (in Redis).
 *
 *   mailway domain add|remove <domain> | list
 *   mailway user add <address> <password> [--send-as <address>…] [--quota <bytes>] | passwd <address> <password> | remove <address> | list [domain]
 *   mailway alias add <source> <target>… (refused when it would close an alias cycle) | remove <source> | list
 */
import { parseArgs } from 'node:util';
import { createDirectory, type Directory, DirectoryError } from '@mailway/directory';
import { withRedis } from '../connection.js';

/** Usage of the directory commands. */
export const directoryUsage = `  mailway domain add <domain> | remove <domain> | list
  mailway user add <address> <password> [--send-as <address>]... [--quota <bytes>]
  mailway user passwd <address> <password> | remove <address> | list [<domain>]
  mailway alias add <source> <target>... | remove <source> | list`;

class UsageError extends Error {}

type Action = (directory: Directory, args: readonly string[], print: (line: string) => void) => Promise<void>;

const domainActions: Record<string, Action> = {
  add: async (d, [domain]) => d.addDomain(need(domain, 'domain')),
  remove: async (d, [domain]) => d.removeDomain(need(domain, 'domain')),
  list: async (d, _args, print) => (await d.listDomains()).forEach((domain) => print(domain)),
};

const userActions: Record<string, Action> = {
  add: async (d, args) => {
    const { positionals, values } = parseArgs({ args: [...args], allowPositionals: true, options: { 'send-as': { type: 'string', multiple: true }, quota: { type: 'string' } } });
    const [address, password] = positionals;
    await d.addUser(need(address, 'address'), need(password, 'password'), { sendAs: values['send-as'] ?? [], quotaBytes: values.quota === undefined ? null : Number(values.quota) });
  },
  passwd: async (d, [address, password]) => d.setPassword(need(address, 'address'), need(password, 'password')),
  remove: async (d, [address]) => d.removeUser(need(address, 'address')),
  list: async (d, [domain], print) => {
    for (const user of await d.listUsers(domain)) {
      const extras = [user.sendAs.length > 0 ? `send-as ${user.sendAs.join(',')}` : '', user.quotaBytes !== null ? `quota ${user.quotaBytes}` : ''].filter(Boolean);
      print(extras.length > 0 ? `${user.address}  (${extras.join('; ')})` : user.address);
    }
  },
};

const aliasActions: Record<string, Action> = {
  add: async (d, [source, ...targets]) => {
    if (targets.length === 0) throw new UsageError('alias add needs at least one target');
    // Mail would go round for ever (the delivery agent would cut it, and fail it, at the first repeat).
    const cycle = await d.findAliasCycle(need(source, 'source'), targets);
    if (cycle !== null) throw new DirectoryError(`refused: ${cycle[0] ?? ''} would close an alias loop: ${cycle.join(' -> ')}`);
    await d.addAlias(need(source, 'source'), targets);
  },
  remove: async (d, [source]) => d.removeAlias(need(source, 'source')),
  list: async (d, _args, print) => (await d.listAliases()).forEach((a) => print(`${a.source} -> ${a.targets.join(', ')}`)),
};

export const directoryCommands = { domain: domainActions, user: userActions, alias: aliasActions } as const;

/** Run `mailway <noun> <verb> …`. */
export async function runDirectoryCommand(noun: keyof typeof directoryCommands, args: readonly string[]): Promise<number> {
  const [verb, ...rest] = args;
  const action = verb === undefined ? undefined : directoryCommands[noun][verb];
  if (action === undefined) {
    process.stderr.write(`usage:\n${directoryUsage}\n`);
    return 64;
  }
  try {
    await withRedis(async (redis, prefix) => {
      await action(createDirectory(redis, { prefix }), rest, (line) => process.stdout.write(`${line}\n`));
    });
    return 0;
  } catch (error) {
    process.stderr.write(`mailway ${noun} ${verb}: ${error instanceof Error ? error.message : String(error)}\n`);
    return error instanceof UsageError ? 64 : 1;
  }
}

function need(value: string | undefined, what: string): string {
  if (value === undefined || value === '') throw new UsageError(`missing <${what}>`);
  return value;
}
