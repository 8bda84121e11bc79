/**
 * An agent's TLS certificate: read from the configured PEM files, or, when none are given,
 * a self-signed one generated at start-up for local development (clients must then skip
 * verification or trust it explicitly; the agent logs a warning).
 */
import { readFile } from 'node:fs/promises';
import { generate } from 'selfsigned';

export interface Certificate {
  readonly key: string;
  readonly cert: string;
  /** True when generated here rather than configured. */
  readonly selfSigned: boolean;
}

/** The configured certificate, or a generated one for `hostname`. */
export async function loadCertificate(files: { certFile?: string | undefined; keyFile?: string | undefined }, hostname: string): Promise<Certificate> {
  if (files.certFile !== undefined && files.keyFile !== undefined) {
    const [cert, key] = await Promise.all([readFile(files.certFile, 'utf8'), readFile(files.keyFile, 'utf8')]);
    return { cert, key, selfSigned: false };
  }
  return { ...(await selfSignedCertificate(hostname)), selfSigned: true };
}

/** An ECDSA P-256 certificate for `hostname`, localhost and 127.0.0.1, valid for a year. */
export async function selfSignedCertificate(hostname: string): Promise<{ key: string; cert: string }> {
  const now = Date.now();
  const result = await generate([{ name: 'commonName', value: hostname }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 3600_000),
    notAfterDate: new Date(now + 365 * 24 * 3600_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: hostname }, { type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
    ],
  });
  return { key: result.private, cert: result.cert };
}
