/**
 * The bench's own command-line arguments. `pnpm bench -- --quick` forwards the `--` separator
 * itself, which node:util's parseArgs would read as the start of positionals; it is dropped here,
 * so both `pnpm bench --quick` and `pnpm bench -- --quick` work. `benchFlags` parses them and
 * answers --help and unknown flags with the bench's usage.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';

export function benchArgs(argv: readonly string[] = process.argv.slice(2)): string[] {
  return argv[0] === '--' ? argv.slice(1) : [...argv];
}

const help = { type: 'boolean', default: false } as const;

type FlagSpecs = NonNullable<ParseArgsConfig['options']>;
/** What parseArgs gives for `options` and --help. */
export type BenchFlags<O extends FlagSpecs> = ReturnType<typeof parseArgs<{ args: string[]; options: O & { help: typeof help } }>>['values'];

/**
 * The flags given to the bench, as declared in `options` (node:util's parseArgs), plus --help:
 * --help prints `usage` and exits 0; a flag it does not know, or one without its value, prints
 * what is wrong and `usage` and exits 2.
 */
export function benchFlags<const O extends FlagSpecs>(usage: string, options: O): BenchFlags<O> {
  let parsed;
  try {
    parsed = parseArgs({ args: benchArgs(), options: { ...options, help } as O & { help: typeof help } });
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${usage}\n`);
    process.exit(2);
  }
  if ((parsed.values as { help?: boolean }).help === true) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  return parsed.values;
}
