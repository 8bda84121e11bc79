/**
 * A self-signed certificate for loopback TLS tests, generated once per test file.
 */
import { generate } from 'selfsigned';

let pending: Promise<{ key: string; cert: string }> | null = null;

/** Key and certificate for CN=localhost (with 127.0.0.1 as an IP SAN). */
export function testCertificate(): Promise<{ key: string; cert: string }> {
  pending ??= generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }],
  }).then((pems) => ({ key: pems.private, cert: pems.cert }));
  return pending;
}
