/**
 * The frame of a bench script: its verdict and its process handling.
 *
 * Reads the problems a bench noted; emits either one `LOST OR FAILED:` line per problem (and exit
 * code 1) or the bench's all-clear line on stdout. runBench runs the bench's main function: Ctrl-C
 * or SIGTERM exits at once, which runs every instance's exit hook (processes killed, temp dirs
 * removed), and an error is printed under the bench's name with exit code 1.
 */

/** Print the problems, or `allClear` when there are none; a problem sets exit code 1. */
export function verdict(problems: readonly string[], allClear: string): void {
  if (problems.length > 0) {
    process.stdout.write(`\n${problems.map((p) => `LOST OR FAILED: ${p}`).join('\n')}\n`);
    process.exitCode = 1;
  } else {
    process.stdout.write(`\n${allClear}\n`);
  }
}

/** Run `main` as the bench called `name`. */
export function runBench(name: string, main: () => Promise<void>): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`${name}: ${signal}: cleaning up\n`);
      process.exit(130);
    });
  }
  main().catch((error: unknown) => {
    process.stderr.write(`${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
