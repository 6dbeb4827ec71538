// auth.jwt.signatureFormat: ES256/384/512 tokens whose signature is made by
// `openssl dgst -sign` (ASN.1 DER, as EMQX 4's signature_format = der accepts)
// and the same signature in the JOSE r||s form (converted here with
// `openssl asn1parse`, independently of the code under test), against the real daemon.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { derToJoseSignature } from '../../src/auth/verifier.js';
import { expectAccepted, expectRefused } from '../broker/support/expect.js';
import { startDaemon, type TestDaemon, tempDir } from '../helpers/daemon.js';
import { b64url, hsToken, nowSec } from '../helpers/tokens.js';

const SECRET = 'signature-format-secret-0123456789';
const CURVES = [
  { alg: 'ES256', curve: 'prime256v1', digest: '-sha256', size: 32 },
  { alg: 'ES384', curve: 'secp384r1', digest: '-sha384', size: 48 },
  { alg: 'ES512', curve: 'secp521r1', digest: '-sha512', size: 66 },
] as const;

interface Signed {
  der: string;
  raw: string;
}

/** One token signed by openssl: with the DER signature as it comes, and converted to r||s. */
function opensslToken(dir: string, key: string, digest: string, size: number, alg: string, claims: object): Signed {
  const input = `${b64url(JSON.stringify({ alg, typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
  const inFile = join(dir, 'input');
  const sigFile = join(dir, 'sig.der');
  writeFileSync(inFile, input);
  execFileSync('openssl', ['dgst', digest, '-sign', key, '-out', sigFile, inFile]);
  const der = execFileSync('openssl', ['base64', '-A', '-in', sigFile]).toString().trim();
  const ints = execFileSync('openssl', ['asn1parse', '-inform', 'DER', '-in', sigFile])
    .toString()
    .split('\n')
    .filter((l) => l.includes('INTEGER'))
    .map((l) =>
      l
        .split(':')
        .at(-1)!
        .trim()
        .padStart(size * 2, '0'),
    );
  assert.equal(ints.length, 2);
  return { der: `${input}.${Buffer.from(der, 'base64').toString('base64url')}`, raw: `${input}.${Buffer.from(ints.join(''), 'hex').toString('base64url')}` };
}

describe('auth.jwt.signatureFormat (openssl-made ECDSA signatures, real daemon)', function () {
  this.timeout(60_000);
  const dir = tempDir('edgegate-sigfmt-');
  const daemons: TestDaemon[] = [];
  const tokens = new Map<string, Signed>();
  const keys = new Map<string, string>();
  after(async () => {
    await Promise.all(daemons.map((d) => d.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  before(() => {
    for (const c of CURVES) {
      const key = join(dir, `${c.alg}.key.pem`);
      const pub = join(dir, `${c.alg}.pub.pem`);
      execFileSync('openssl', ['ecparam', '-name', c.curve, '-genkey', '-noout', '-out', key]);
      execFileSync('openssl', ['ec', '-in', key, '-pubout', '-out', pub], { stdio: 'ignore' });
      keys.set(c.alg, pub);
      tokens.set(c.alg, opensslToken(dir, key, c.digest, c.size, c.alg, { sub: 'legacy-sdk', exp: nowSec() + 3600 }));
    }
  });

  const start = async (alg: string, jwt: Record<string, unknown>): Promise<TestDaemon> => {
    const d = await startDaemon({ auth: { jwt: { secret: SECRET, pubkey: keys.get(alg)!, ...jwt }, rateLimit: { maxFailures: 0 } } });
    daemons.push(d);
    return d;
  };

  for (const c of CURVES) {
    it(`${c.alg}: raw (default) accepts r||s and refuses DER; der accepts DER and refuses r||s`, async () => {
      const t = tokens.get(c.alg)!;
      const raw = await start(c.alg, {});
      assert.equal(raw.config.auth.jwt.signatureFormat, 'raw');
      await expectAccepted(raw, t.raw);
      await expectRefused(raw, t.der, 'JWT_SIGNATURE');
      const der = await start(c.alg, { signatureFormat: 'der' });
      await expectAccepted(der, t.der);
      await expectRefused(der, t.raw, 'JWT_SIGNATURE');
      const line = der.logs.find((l) => l.msg === 'authentication refused' && l.reason === 'JWT_SIGNATURE');
      assert.match(String(line?.detail), /not ASN\.1 DER/);
    });
  }

  it('der leaves other algorithms alone (HS256 still verifies) and refuses a tampered DER signature', async () => {
    const d = await start('ES256', { signatureFormat: 'der' });
    await expectAccepted(d, await hsToken(SECRET, { sub: 'hs', exp: nowSec() + 60 }));
    const t = tokens.get('ES256')!.der;
    const [h, p, sig] = t.split('.') as [string, string, string];
    const bytes = Buffer.from(sig, 'base64url');
    bytes[bytes.length - 1] ^= 1; // still DER, wrong value
    await expectRefused(d, `${h}.${p}.${bytes.toString('base64url')}`, 'JWT_SIGNATURE');
    await expectRefused(d, `${h}.${p}.${bytes.subarray(0, 10).toString('base64url')}`, 'JWT_SIGNATURE'); // truncated
    await expectRefused(d, `${h}.${p}.${Buffer.concat([bytes, Buffer.from([0])]).toString('base64url')}`, 'JWT_SIGNATURE'); // trailing byte
  });

  it('an unknown signatureFormat stops start-up naming the key', async () => {
    await assert.rejects(startDaemon({ auth: { jwt: { signatureFormat: 'asn1' as 'der' } } }), /auth\.jwt\.signatureFormat/);
  });
});

describe('derToJoseSignature (unit)', () => {
  it('pads short integers, strips the sign byte, takes the long length form (P-521)', () => {
    const der = Buffer.from([0x30, 0x07, 0x02, 0x01, 0x05, 0x02, 0x02, 0x00, 0x80]);
    assert.deepEqual(derToJoseSignature(der, 2), Buffer.from([0x00, 0x05, 0x00, 0x80]));
    const r = Buffer.concat([Buffer.from([0x00]), Buffer.alloc(66, 0x81)]);
    const long = Buffer.concat([Buffer.from([0x30, 0x81, 2 * (2 + 67)]), Buffer.from([0x02, 67]), r, Buffer.from([0x02, 67]), r]);
    assert.equal(derToJoseSignature(long, 66)?.length, 132);
  });
  it('refuses what is not exactly DER of two positive integers that fit', () => {
    for (const bad of [
      [0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01], // not a SEQUENCE
      [0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01], // wrong length
      [0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x01], // negative
      [0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01], // non-minimal
      [0x30, 0x06, 0x02, 0x01, 0x01, 0x04, 0x01, 0x01], // not an INTEGER
      [0x30, 0x03, 0x02, 0x01, 0x01], // one integer
      [0x30, 0x81, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01], // needless long form
    ])
      assert.equal(derToJoseSignature(Buffer.from(bad), 32), undefined, Buffer.from(bad).toString('hex'));
    const tooBig = Buffer.concat([Buffer.from([0x30, 0x26, 0x02, 0x21]), Buffer.alloc(33, 0x01), Buffer.from([0x02, 0x01, 0x01])]);
    assert.equal(derToJoseSignature(tooBig, 32), undefined);
  });
});
