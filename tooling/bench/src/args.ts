/**
 * The bench's own command-line arguments. `pnpm bench -- --quick` forwards the `--` separator
 * itself, which node:util's parseArgs would read as the start of positionals; it is dropped here,
 * so both `pnpm bench --quick` and `pnpm bench -- --quick` work.
 */
export function benchArgs(argv: readonly string[] = process.argv.slice(2)): string[] {
  return argv[0] === '--' ? argv.slice(1) : [...argv];
}
