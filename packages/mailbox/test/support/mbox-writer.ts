/**
 * A child process for the locking test: appends COUNT messages tagged TAG to the mbox at
 * PATH, one delivery at a time, then exits. Run with `node --import tsx`.
 */
import { createMbox } from '../../src/index.js';

const [path, tag, count] = process.argv.slice(2) as [string, string, string];
const store = createMbox({ fsync: false });
for (let i = 0; i < Number(count); i += 1) {
  const body = `Subject: ${tag} ${i}\r\n\r\n${`From ${tag} line ${i}\r\n`.repeat(200)}`;
  await store.deliver(path, Buffer.from(body), { key: `${tag}-${i}`, folder: null, sender: `${tag}@example.org` });
}
