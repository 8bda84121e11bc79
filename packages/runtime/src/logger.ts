/**
 * The agent's structured log: one JSON object per line on stdout, with the agent's name and
 * pid on every line, an ISO-8601 `time` and the level as a word (`"level":"info"`).
 */
import { pino } from 'pino';

export type Logger = pino.Logger;

export interface LoggerOptions {
  /** Agent name, e.g. `submission`; written as `agent` on every line. */
  readonly name: string;
  /** Least severe level written: fatal, error, warn, info, debug, trace or silent. */
  readonly level: string;
  /** Where lines go; default stdout, written synchronously so nothing is lost at exit. */
  readonly destination?: pino.DestinationStream;
}

/** Creates the agent's logger. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { agent: options.name, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
