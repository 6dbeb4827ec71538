// Every supported signature algorithm through a real TCP connection (mqtt.js),
// the refusals EMQX also makes (alg none, another key, algorithm confusion), and
// tokens signed with plain node:crypto so the verifier is checked against an
// implementation other than jose.
import { rmSync } from 'node:fs';
import { startDaemon, type TestDaemon, tempDir } from '../helpers/daemon.js';
import { hs256WithNodeCrypto, hsToken, nowSec } from '../helpers/tokens.js';
import { expectAccepted, expectRefused } from './support/expect.js';
import { hs256WithKeyBytes, joseToken, keyPair, type Pair, selfSignedCert, signWithNodeCrypto, unsignedToken, writePublicKey } from './support/keys.js';

const SECRET = 'algorithms-test-secret-0123456789';
const claims = (): { sub: string; iat: number; exp: number } => ({ sub: 'sensor-1', iat: nowSec(), exp: nowSec() + 600 });

// Rate limiting is off here: this suite's many deliberate refusals all come from
// 127.0.0.1 and would otherwise get it banned (rate limiting has its own tests).
describe('signature algorithms over TCP', () => {
  let dir: string;
  let rsa: Pair;
  let ec: Pair;
  let ed: Pair;
  const daemons: TestDaemon[] = [];
  const start = async (jwt: Record<string, unknown>): Promise<TestDaemon> => {
    const d = await startDaemon({ auth: { jwt, rateLimit: { maxFailures: 0 } } });
    daemons.push(d);
    return d;
  };

  before(() => {
    dir = tempDir('edgegate-keys-');
    rsa = keyPair('rsa');
    ec = keyPair('ec-p256');
    ed = keyPair('ed25519');
  });
  after(async () => {
    await Promise.all(daemons.map((d) => d.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  describe('HMAC secret', () => {
    let d: TestDaemon;
    before(async () => (d = await start({ secret: SECRET })));

    for (const alg of ['HS256', 'HS384', 'HS512']) {
      it(`accepts ${alg}`, async () => expectAccepted(d, await hsToken(SECRET, claims(), alg)));
    }
    it('accepts HS256 signed with plain node:crypto', () => expectAccepted(d, hs256WithNodeCrypto(SECRET, claims())));
    it('accepts HS384/HS512 signed with plain node:crypto', async () => {
      await expectAccepted(d, hs256WithKeyBytes(SECRET, claims(), 'HS384'));
      await expectAccepted(d, hs256WithKeyBytes(SECRET, claims(), 'HS512'));
    });
    it('refuses alg none (JWT_ALG_NOT_ALLOWED)', async () => {
      await expectRefused(d, unsignedToken(claims()), 'JWT_ALG_NOT_ALLOWED');
      await expectRefused(d, unsignedToken(claims(), 'None'), 'JWT_ALG_NOT_ALLOWED');
    });
    it('refuses a token from another secret (JWT_SIGNATURE)', async () => expectRefused(d, await hsToken('some-other-secret', claims()), 'JWT_SIGNATURE'));
    it('refuses a tampered payload (JWT_SIGNATURE)', async () => {
      const [h, , s] = (await hsToken(SECRET, claims())).split('.');
      const forged = Buffer.from(JSON.stringify({ ...claims(), sub: 'admin' })).toString('base64url');
      await expectRefused(d, `${h}.${forged}.${s}`, 'JWT_SIGNATURE');
    });
    it('refuses an RS256 token when no public key is configured (JWT_NO_KEY)', async () => {
      await expectRefused(d, await joseToken('RS256', rsa.privateKey, claims()), 'JWT_NO_KEY');
    });
  });

  describe('HMAC secret in base64', () => {
    it('accepts a token signed with the decoded bytes', async () => {
      const bytes = Buffer.from('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff', 'hex');
      const d = await start({ secret: bytes.toString('base64'), secretBase64: true });
      await expectAccepted(d, await hsToken(bytes, claims()));
      await expectRefused(d, await hsToken(bytes.toString('base64'), claims()), 'JWT_SIGNATURE');
    });
  });

  describe('RSA X.509 certificate as auth.jwt.pubkey', () => {
    let d: TestDaemon;
    let certPem: string;
    before(async () => {
      const { certFile } = selfSignedCert(dir, 'rsa', rsa);
      certPem = (await import('node:fs')).readFileSync(certFile, 'utf8');
      d = await start({ pubkey: certFile });
    });
    for (const alg of ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']) {
      it(`accepts ${alg}`, async () => expectAccepted(d, await joseToken(alg, rsa.privateKey, claims())));
    }
    it('accepts RS256 and PS256 signed with plain node:crypto', async () => {
      await expectAccepted(d, signWithNodeCrypto('RS256', rsa.privateKey, claims()));
      await expectAccepted(d, signWithNodeCrypto('PS256', rsa.privateKey, claims()));
    });
    it('refuses an RS256 token from another RSA key (JWT_SIGNATURE)', async () => {
      await expectRefused(d, await joseToken('RS256', keyPair('rsa').privateKey, claims()), 'JWT_SIGNATURE');
    });
    it('refuses HS256 "signed" with the certificate PEM text or the SPKI PEM (algorithm confusion)', async () => {
      await expectRefused(d, hs256WithKeyBytes(certPem, claims()), 'JWT_NO_KEY');
      await expectRefused(d, hs256WithKeyBytes(rsa.publicPem, claims()), 'JWT_NO_KEY');
      await expectRefused(d, hs256WithKeyBytes(rsa.publicKey.export({ type: 'spki', format: 'der' }), claims()), 'JWT_NO_KEY');
    });
    it('refuses ES256 when only an RSA key is configured', async () => expectRefused(d, await joseToken('ES256', ec.privateKey, claims()), 'JWT_NO_KEY'));
  });

  describe('secret and RSA public key both configured: the alg selects the key', () => {
    let d: TestDaemon;
    before(async () => (d = await start({ secret: SECRET, pubkey: writePublicKey(dir, 'rsa-both.pem', rsa) })));
    it('accepts HS256 with the secret and RS256 with the key', async () => {
      await expectAccepted(d, await hsToken(SECRET, claims()));
      await expectAccepted(d, await joseToken('RS256', rsa.privateKey, claims()));
    });
    it('refuses HS256 "signed" with the public key PEM text (algorithm confusion, JWT_SIGNATURE)', async () => {
      await expectRefused(d, hs256WithKeyBytes(rsa.publicPem, claims()), 'JWT_SIGNATURE');
      await expectRefused(d, hs256WithKeyBytes(rsa.publicPem.trim(), claims()), 'JWT_SIGNATURE');
    });
    it('refuses an RS256 header over an HMAC signature', async () => {
      const input = (await hsToken(SECRET, claims())).split('.');
      const header = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT' })).toString('base64url');
      await expectRefused(d, `${header}.${input[1]}.${input[2]}`, 'JWT_SIGNATURE');
    });
  });

  describe('EC P-256 (ES256)', () => {
    let d: TestDaemon;
    before(async () => (d = await start({ pubkey: writePublicKey(dir, 'ec.pem', ec) })));
    it('accepts ES256 signed with jose', async () => expectAccepted(d, await joseToken('ES256', ec.privateKey, claims())));
    it('accepts ES256 signed with plain node:crypto (IEEE P1363 signature)', () => expectAccepted(d, signWithNodeCrypto('ES256', ec.privateKey, claims())));
    it('refuses ES256 from another key', async () => expectRefused(d, await joseToken('ES256', keyPair('ec-p256').privateKey, claims()), 'JWT_SIGNATURE'));
    it('refuses a DER-encoded ECDSA signature', async () => {
      const good = signWithNodeCrypto('ES256', ec.privateKey, claims());
      const [h, p] = good.split('.');
      const der = (await import('node:crypto')).sign('sha256', Buffer.from(`${h}.${p}`), ec.privateKey).toString('base64url');
      await expectRefused(d, `${h}.${p}.${der}`, 'JWT_SIGNATURE');
    });
    it('refuses HS256 signed with the EC public key PEM (algorithm confusion)', () =>
      expectRefused(d, hs256WithKeyBytes(ec.publicPem, claims()), 'JWT_NO_KEY'));
  });

  describe('EC certificate (ES256 with X.509)', () => {
    it('accepts ES256 when the pubkey is a certificate', async () => {
      const d = await start({ pubkey: selfSignedCert(dir, 'ec', ec).certFile });
      await expectAccepted(d, await joseToken('ES256', ec.privateKey, claims()));
    });
  });

  describe('Ed25519 (EdDSA)', () => {
    let d: TestDaemon;
    before(async () => (d = await start({ pubkey: writePublicKey(dir, 'ed.pem', ed) })));
    it('accepts EdDSA', async () => expectAccepted(d, await joseToken('EdDSA', ed.privateKey, claims())));
    it('refuses EdDSA from another key', async () => expectRefused(d, await joseToken('EdDSA', keyPair('ed25519').privateKey, claims()), 'JWT_SIGNATURE'));
  });

  describe('auth.jwt.algorithms allow-list', () => {
    it('refuses a validly signed token whose alg is not listed', async () => {
      const d = await start({ secret: SECRET, algorithms: ['HS256'] });
      await expectAccepted(d, await hsToken(SECRET, claims(), 'HS256'));
      await expectRefused(d, await hsToken(SECRET, claims(), 'HS512'), 'JWT_ALG_NOT_ALLOWED');
    });
  });
});
