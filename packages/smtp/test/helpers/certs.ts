/**
 * Self-signed TLS certificates for tests (the `selfsigned` package; generation is async).
 *
 * Reads: a common name (default `localhost`).
 * Emits: `{ key, cert }` PEM strings, valid for `localhost` and 127.0.0.1, cached per name so a
 * test file pays for key generation once. Pass `cert` as the client's `ca` to verify it.
 */
import { generate } from 'selfsigned';

export interface TestCertificate {
  readonly key: string;
  readonly cert: string;
}

const cache = new Map<string, Promise<TestCertificate>>();

/** A certificate and key for `commonName`, plus DNS localhost and IP 127.0.0.1. */
export function selfSignedCert(commonName = 'localhost'): Promise<TestCertificate> {
  let pending = cache.get(commonName);
  if (!pending) {
    pending = generate([{ name: 'commonName', value: commonName }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      notBeforeDate: new Date(Date.now() - 24 * 3600_000),
      notAfterDate: new Date(Date.now() + 30 * 24 * 3600_000),
      extensions: [
        { name: 'basicConstraints', cA: true },
        { name: 'keyUsage', digitalSignature: true, keyCertSign: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 2, value: commonName }, { type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
      ],
    }).then((r) => ({ key: r.private, cert: r.cert }));
    cache.set(commonName, pending);
  }
  return pending;
}
