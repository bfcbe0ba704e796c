/**
 * A throwaway PKI for the TLS tests, made with openssl: a CA, a server certificate for 10.x/127.0.0.1
 * addresses signed by it, a client certificate signed by it, and a client certificate of another CA.
 */
import { execFileSync } from 'child_process';
import fs from 'fs';
import path from 'path';

export interface TestPki {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  strangerCert: string;
  strangerKey: string;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
}

function selfSigned(dir: string, name: string): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.pem`);
  const key = path.join(dir, `${name}-key.pem`);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', key, '-out', cert]);
  return { cert, key };
}

function signed(dir: string, name: string, ca: { cert: string; key: string }, altNames?: string): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.pem`);
  const key = path.join(dir, `${name}-key.pem`);
  const csr = path.join(dir, `${name}.csr`);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}`, '-keyout', key, '-out', csr]);
  const extension = path.join(dir, `${name}.ext`);
  fs.writeFileSync(extension, altNames ? `subjectAltName=${altNames}\n` : 'extendedKeyUsage=clientAuth\n');
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', '1', '-extfile', extension, '-out', cert]);
  return { cert, key };
}

/** Writes the PKI into `dir` (which the caller removes). */
export function makeTestPki(dir: string): TestPki {
  const ca = selfSigned(dir, 'ca');
  const server = signed(dir, 'server', ca, 'IP:127.0.0.1,IP:10.2.0.1,DNS:localhost');
  const client = signed(dir, 'client', ca);
  const stranger = signed(dir, 'stranger', selfSigned(dir, 'other-ca'));
  return {
    ca: ca.cert,
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: client.cert,
    clientKey: client.key,
    strangerCert: stranger.cert,
    strangerKey: stranger.key,
  };
}
