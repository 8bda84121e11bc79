/**
 * DotUnstuffStream: a Transform that reads dot-stuffed data (as sent after DATA) and emits the
 * message octets, ending at `<CRLF>.<CRLF>`. For services that receive or store SMTP data
 * outside the Mailway server; the server itself drives DotDataReader directly.
 *
 * Emits 'trailing' with any octets that followed the end marker. Fails with an error on an
 * oversized message, on bare CR/LF when strict (the default), and on data without an end.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { DotDataReader, type DataReaderOptions } from './data-reader.js';

export class DotUnstuffStream extends Transform {
  private readonly reader: DotDataReader;
  private readonly strict: boolean;
  private ended = false;

  constructor(options: Partial<DataReaderOptions> = {}) {
    super();
    this.strict = options.strictLineEndings ?? true;
    this.reader = new DotDataReader({ maxBytes: options.maxBytes ?? Number.MAX_SAFE_INTEGER, strictLineEndings: this.strict });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.ended) {
      this.emit('trailing', chunk);
      callback();
      return;
    }
    const end = this.reader.feed(chunk, (segment) => this.push(segment));
    if (end !== -1) {
      this.ended = true;
      if (end < chunk.length) this.emit('trailing', chunk.subarray(end));
    }
    callback(this.failure());
  }

  override _flush(callback: TransformCallback): void {
    callback(this.failure() ?? (this.ended ? null : new Error('data ended without <CRLF>.<CRLF>')));
  }

  /** The reader's verdict as a stream error, if any. */
  private failure(): Error | null {
    if (this.reader.oversized) return new Error('message exceeds the size limit');
    if (this.strict && this.reader.violation) return new Error(`bare ${this.reader.violation === 'bare-lf' ? 'LF' : 'CR'} in message data`);
    return null;
  }
}
