/**
 * Trust roots for verifying receiving hosts: Node's bundled roots, plus the operator's own
 * (RELAY_OUTBOUND_TLS_CA: a PEM file, e.g. a private CA for internal exchangers). The same
 * roots verify MX certificates (REQUIRETLS, MTA-STS) and MTA-STS policy servers.
 *
 * Reads: the PEM file named at start-up. Emits: the PEM certificates, or an error naming what
 * is wrong with the file.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';

/** The certificates in the PEM file at `path`; throws when it cannot be read or holds none, or a block that is not one. */
export function readCaFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error(`${path} holds no PEM certificate`);
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch {
      throw new Error(`certificate ${i + 1} in ${path} cannot be parsed`);
    }
  }
  return blocks;
}

/** Node's bundled roots and those in `path`. */
export function trustedRoots(path: string): string[] {
  return [...rootCertificates, ...readCaFile(path)];
}
