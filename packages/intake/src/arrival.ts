/**
 * The start of a message as it arrives at end of data: its header block read (up to
 * `maxHeaderBytes`), the body still streaming behind it, and its hop count — the Received
 * fields it carries, plus this hop's own when the intake adds one (LMTP delivers, it adds none).
 */
import { type HeaderField, hopCount, readHeaderBlock, readHeaderFields } from '@mailway/smtp/message';
import type { MessageBody } from '@mailway/smtp/server';

/** Largest header block any intake takes (the body may be as large as the size limit allows). */
export const maxHeaderBytes = 1024 * 1024;

export interface Arrival {
  readonly header: Buffer;
  /** The rest of the message, not yet read. */
  readonly rest: AsyncIterable<Buffer>;
  /** The header's fields, parsed on first use. */
  fields(): readonly HeaderField[];
  /** The field `name`'s first value, unfolded, or null. */
  field(name: string): string | null;
  readonly hops: number;
}

/** Reads the header block of `body`; throws HeaderTooLargeError past the limit. */
export async function readArrival(body: MessageBody, addsTrace: boolean): Promise<Arrival> {
  const { header, rest } = await readHeaderBlock(body, { maxHeaderBytes });
  let parsed: HeaderField[] | null = null;
  const fields = (): readonly HeaderField[] => (parsed ??= readHeaderFields(header));
  return {
    header,
    rest,
    fields,
    field: (name) => fields().find((f) => f.name.toLowerCase() === name)?.value ?? null,
    hops: hopCount(header) + (addsTrace ? 1 : 0),
  };
}
