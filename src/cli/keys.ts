// `edgegate keys generate`: a key pair for signing sensor tokens (or the bridge's own).
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { errorMessage } from '../errors.js';
import { mkdirDurableSync, writeFileAtomicSync } from '../storage/atomicFile.js';

export const KEY_ALGS = ['ES256', 'ES384', 'ES512', 'RS256', 'PS256', 'EdDSA'] as const;
export type KeyAlg = (typeof KEY_ALGS)[number];

export function generateKeyPairPem(alg: KeyAlg): { privateKey: string; publicKey: string } {
  const pair = (() => {
    switch (alg) {
      case 'ES256':
        return generateKeyPairSync('ec', { namedCurve: 'P-256' });
      case 'ES384':
        return generateKeyPairSync('ec', { namedCurve: 'P-384' });
      case 'ES512':
        return generateKeyPairSync('ec', { namedCurve: 'P-521' });
      case 'RS256':
      case 'PS256':
        return generateKeyPairSync('rsa', { modulusLength: 2048 });
      case 'EdDSA':
        return generateKeyPairSync('ed25519');
    }
  })();
  return {
    privateKey: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export function keysGenerate(opts: { alg: string; out: string }): void {
  if (!KEY_ALGS.includes(opts.alg as KeyAlg)) {
    process.stderr.write(`edgegate: --alg must be one of ${KEY_ALGS.join(', ')}\n`);
    process.exit(1);
  }
  const { privateKey, publicKey } = generateKeyPairPem(opts.alg as KeyAlg);
  const priv = join(opts.out, 'private.pem');
  const pub = join(opts.out, 'public.pem');
  // Atomic and fsynced: a key pair generated on the gateway and cut off mid-write
  // would otherwise leave an empty private.pem beside a public key already handed out.
  try {
    mkdirDurableSync(opts.out, 0o700);
    writeFileAtomicSync(priv, privateKey, { mode: 0o600 });
    writeFileAtomicSync(pub, publicKey, { mode: 0o644 });
  } catch (err) {
    process.stderr.write(`edgegate: cannot write the key pair into ${opts.out}: ${errorMessage(err)}\n`);
    process.exit(1);
  }
  process.stdout.write(`${priv}\n${pub}\n`);
}
