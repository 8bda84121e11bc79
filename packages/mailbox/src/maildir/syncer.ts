/**
 * Group commit for directory fsyncs: callers that need a directory's entries durable ask for a
 * sync; if one is already running, they wait for the next one, which starts when it ends and
 * covers every caller that asked meanwhile. A caller's own change always happened before the
 * sync it waits for began, so it is durable when its promise resolves.
 */
import { fsyncDirectory } from '@mailway/files/durable';

interface Round {
  readonly promise: Promise<void>;
  start(): void;
}

export class DirectorySyncer {
  /** Per directory: the sync running now, and the round that will run after it. */
  private readonly state = new Map<string, { running: Promise<void> | null; next: Round | null }>();

  /** `syncDirectory` does the work (fsyncDirectory; replaceable to observe the rounds). */
  constructor(private readonly syncDirectory: (dir: string) => Promise<void> = fsyncDirectory) {}

  /** Resolves once `dir` has been fsynced by a sync that started after this call. */
  sync(dir: string): Promise<void> {
    let entry = this.state.get(dir);
    if (entry === undefined) {
      entry = { running: null, next: null };
      this.state.set(dir, entry);
    }
    if (entry.running === null) return this.run(dir, entry);
    entry.next ??= this.round(dir, entry);
    return entry.next.promise;
  }

  /** Starts a sync of `dir` now. */
  private run(dir: string, entry: { running: Promise<void> | null; next: Round | null }): Promise<void> {
    const running = this.syncDirectory(dir).finally(() => {
      entry.running = null;
      const next = entry.next;
      entry.next = null;
      if (next !== null) next.start();
      else this.state.delete(dir);
    });
    entry.running = running;
    return running;
  }

  /** A sync that starts when the running one ends. */
  private round(dir: string, entry: { running: Promise<void> | null; next: Round | null }): Round {
    let start = (): void => {};
    const promise = new Promise<void>((resolve, reject) => {
      start = () => void this.run(dir, entry).then(resolve, reject);
    });
    return { promise, start };
  }
}
