/**
 * A private certificate authority for TLS policy tests: a CA certificate (written to a file,
 * for RELAY_OUTBOUND_TLS_CA) and leaf certificates it signs for the names a test gives, as a
 * receiving domain's MX hosts and MTA-STS policy server would hold from a public CA.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';

export interface TestCa {
  readonly cert: string;
  readonly key: string;
  /** A PEM file holding the CA certificate. */
  readonly file: string;
  /** A server certificate signed by this CA for `names` (DNS names), valid from an hour ago for a day, or as given. */
  issue(names: readonly string[], validity?: { readonly from: Date; readonly to: Date }): Promise<{ key: string; cert: string }>;
  /** Removes the file. */
  remove(): void;
}

export async function createTestCa(name = 'Mailway Test CA'): Promise<TestCa> {
  const now = Date.now();
  const root = await generate([{ name: 'commonName', value: name }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 3_600_000),
    notAfterDate: new Date(now + 7 * 24 * 3_600_000),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const directory = mkdtempSync(join(tmpdir(), 'mailway-ca-'));
  const file = join(directory, 'ca.pem');
  writeFileSync(file, root.cert);
  return {
    cert: root.cert,
    key: root.private,
    file,
    async issue(names, validity) {
      const leaf = await generate([{ name: 'commonName', value: names[0] ?? 'localhost' }], {
        keyType: 'ec',
        curve: 'P-256',
        algorithm: 'sha256',
        notBeforeDate: validity?.from ?? new Date(now - 3_600_000),
        notAfterDate: validity?.to ?? new Date(now + 24 * 3_600_000),
        ca: { key: root.private, cert: root.cert },
        extensions: [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
          { name: 'extKeyUsage', serverAuth: true },
          { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2 as const, value })) },
        ],
      });
      return { key: leaf.private, cert: leaf.cert };
    },
    remove: () => rmSync(directory, { recursive: true, force: true }),
  };
}
