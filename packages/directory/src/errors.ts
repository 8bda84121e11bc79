/**
 * The directory's one error type: a request the directory refuses (bad address, unknown user,
 * a domain still in use, a malformed seed). Its message is meant for the administrator.
 */

/** A refused directory request; the message says what and why. */
export class DirectoryError extends Error {
  override name = 'DirectoryError';
}
