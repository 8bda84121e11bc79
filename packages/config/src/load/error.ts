/**
 * ConfigError: every problem found in one configuration, one line each, naming the
 * environment variable or the file key at fault. Values of secrets are never printed.
 */

/** Where the offending value came from. */
export type ConfigSource = 'env' | 'file' | 'default';

export interface ConfigIssue {
  /** Dotted path in the schema, e.g. `submission.port`; '' for the file as a whole. */
  readonly key: string;
  /** The environment variable bound to the key, if any. */
  readonly env: string | null;
  readonly source: ConfigSource;
  readonly message: string;
  /** The environment value at fault (source 'env' only), `***` for secrets. */
  readonly value?: string;
}

/** Environment variables whose values are never echoed. */
export function isSecret(env: string): boolean {
  return /PASSWORD|SECRET|KEY|TOKEN/i.test(env);
}

/** One line per issue, e.g. `invalid configuration: SUBMISSION_PORT="99x" (submission.port): expected …`. */
export function formatIssue(issue: ConfigIssue, file: string | null): string {
  const key = issue.key === '' ? '(top level)' : issue.key;
  let where: string;
  if (issue.source === 'env' && issue.env !== null) {
    const shown = issue.value === undefined || isSecret(issue.env) ? '***' : JSON.stringify(issue.value);
    where = `${issue.env}=${shown} (${key})`;
  } else if (issue.source === 'file' && file !== null) {
    where = issue.key === '' ? file : `${issue.key} in ${file}`;
  } else {
    where = issue.env === null ? key : `${key} (${issue.env})`;
  }
  return `invalid configuration: ${where}: ${issue.message}`;
}

/** The configuration is unusable; `message` holds one line per issue. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly issues: readonly ConfigIssue[];
  /** The config file read, if any. */
  readonly file: string | null;

  constructor(issues: readonly ConfigIssue[], file: string | null = null) {
    super(issues.map((issue) => formatIssue(issue, file)).join('\n'));
    this.issues = issues;
    this.file = file;
  }
}
