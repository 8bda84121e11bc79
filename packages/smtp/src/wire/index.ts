/**
 * @module @mailway/smtp/wire
 *
 * Byte-level framing of message data: the server side's DATA and BDAT readers (unstuffing,
 * end detection, strict line endings) and the client side's dot-stuffing.
 */
export { DotDataReader, ChunkReader, type DataReaderOptions, type LineEndingViolation } from './data-reader.js';
export { DotUnstuffStream } from './unstuff-stream.js';
export { DotStuffer, DotStuffStream, type DotStuffStreamOptions, dotStuff, dataTerminator, DATA_END, DATA_END_WITH_CRLF } from './dot-stuff.js';
