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
  /** Where lines go; default stdout (see `bufferedStdout`). */
  readonly destination?: pino.DestinationStream;
}

/** Lines are held until this many bytes are waiting… */
const bufferBytes = 4096;
/** …or this long has passed, so that a quiet agent's lines still appear at once. */
const flushEveryMs = 100;

/**
 * Stdout, written in batches: one write per 4 KiB or 100 ms instead of one per line (a busy
 * agent logs a few lines per message). Writes stay synchronous, and whatever is held is written
 * when the process exits, on any exit path; only a SIGKILL can lose the last 100 ms.
 */
function bufferedStdout(): pino.DestinationStream {
  const destination = pino.destination({ dest: 1, sync: true, minLength: bufferBytes, periodicFlush: flushEveryMs });
  process.on('exit', () => {
    try {
      destination.flushSync();
    } catch {
      // stdout gone: nothing left to tell.
    }
  });
  return destination;
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
    options.destination ?? bufferedStdout(),
  );
}
