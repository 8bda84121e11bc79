/**
 * Prints one closing line, `N passed, N failed, N skipped`, after a vitest run.
 *
 * CI reads this line rather than vitest's own summary. A test file that fails to load and an
 * unhandled error each count as a failure, so a broken run can never report `0 failed`.
 */
export default class SummaryReporter {
  onTestRunEnd(testModules, unhandledErrors) {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const mod of testModules) {
      let tests = 0;
      for (const test of mod.children.allTests()) {
        tests += 1;
        const state = test.result().state;
        if (state === 'passed') passed += 1;
        else if (state === 'failed') failed += 1;
        else skipped += 1;
      }
      // A module that failed outside its tests (import error, hook error) is a failure of its own.
      if (mod.state() === 'failed' && tests === 0) failed += 1;
      else if (mod.errors().length > 0) failed += 1;
    }
    failed += unhandledErrors.length;
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
