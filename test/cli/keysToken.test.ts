// In-process checks of the CLI's building blocks (no child process): key pairs
// of every `keys generate` algorithm sign tokens that the broker's verifier
// accepts with the public key alone; duration and claim parsing.
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { SignJWT } from 'jose';
import { KeyRing, publicKeyFromPem } from '../../src/auth/keys.js';
import { verifyToken } from '../../src/auth/verifier.js';
import { generateKeyPairPem, KEY_ALGS } from '../../src/cli/keys.js';
import { parseClaim, parseDuration } from '../../src/cli/token.js';
import { buildConfig } from '../../src/config/load.js';

describe('CLI building blocks', () => {
  const rules = buildConfig().auth.jwt;
  for (const alg of KEY_ALGS) {
    it(`keys generate ${alg}: the pair signs and verifies`, async () => {
      const { privateKey, publicKey } = generateKeyPairPem(alg);
      const keys = new KeyRing();
      keys.replace('config', [await publicKeyFromPem(publicKey, 'config')]);
      const token = await new SignJWT({ sub: alg }).setProtectedHeader({ alg }).sign(createPrivateKey(privateKey));
      const verdict = await verifyToken(token, { clientId: 'c' }, keys, Date.now(), rules);
      assert.equal(verdict.payload.sub, alg);
    });
  }
  it('refuses an RSA public key under 2048 bits when loading it (jose could never verify with it)', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    await assert.rejects(publicKeyFromPem(weak, 'config'), /at least 2048 bits/);
  });
  it('parses durations and claims', () => {
    assert.equal(parseDuration('3600'), 3600);
    assert.equal(parseDuration('90s'), 90);
    assert.equal(parseDuration('15m'), 900);
    assert.equal(parseDuration('1h'), 3600);
    assert.equal(parseDuration('7d'), 604_800);
    assert.throws(() => parseDuration('1 week'));
    assert.deepEqual(parseClaim('n=42'), ['n', 42]);
    assert.deepEqual(parseClaim('aud=["a","b"]'), ['aud', ['a', 'b']]);
    assert.deepEqual(parseClaim('site=plant-7'), ['site', 'plant-7']);
    assert.deepEqual(parseClaim('eq=a=b'), ['eq', 'a=b']);
    assert.throws(() => parseClaim('novalue'));
  });
});
