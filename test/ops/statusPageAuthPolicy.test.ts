// When the status page demands a login (http.host not loopback, or http.pageAuth
// "always"), and which keys may sign admin tokens (local ones, never JWKS).
import assert from 'node:assert/strict';
import type { TrustedKey } from '../../src/auth/keys.js';
import { buildConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { adminKeys, checkPageAuth, isLoopbackHost, pageAuthRequired } from '../../src/ops/pageAuthPolicy.js';

const key = (source: TrustedKey['source']): TrustedKey => ({ id: source, source, type: 'hmac', byAlg: new Map() });

describe('status page login policy', () => {
  it('knows loopback addresses and names', () => {
    for (const h of [
      '127.0.0.1',
      '127.0.0.2',
      '127.255.255.254',
      '::1',
      '[::1]',
      '0:0:0:0:0:0:0:1',
      '::ffff:127.0.0.1',
      'localhost',
      'LOCALHOST',
      'gw.localhost',
    ])
      assert.equal(isLoopbackHost(h), true, h);
    for (const h of ['0.0.0.0', '::', '192.168.1.20', '10.0.0.1', '::ffff:10.0.0.1', 'fe80::1', 'gateway.local', 'example.com', '128.0.0.1'])
      assert.equal(isLoopbackHost(h), false, h);
  });

  it('requires a login off loopback (auto) or everywhere (always)', () => {
    assert.equal(pageAuthRequired({ host: '127.0.0.1', pageAuth: 'auto' }), false);
    assert.equal(pageAuthRequired({ host: '0.0.0.0', pageAuth: 'auto' }), true);
    assert.equal(pageAuthRequired({ host: '192.168.1.20', pageAuth: 'auto' }), true);
    assert.equal(pageAuthRequired({ host: '127.0.0.1', pageAuth: 'always' }), true);
  });

  it('trusts only local keys for admin tokens, and refuses to start without one when a login is required', () => {
    assert.deepEqual(
      adminKeys([key('config'), key('jwks'), key('generated')]).map((k) => k.source),
      ['config', 'generated'],
    );
    const http = (over: Record<string, unknown>) => buildConfig({ http: { enabled: true, ...over } }).http;
    assert.doesNotThrow(() => checkPageAuth(http({ host: '0.0.0.0' }), [key('generated')]));
    assert.doesNotThrow(() => checkPageAuth(http({ host: '127.0.0.1' }), [key('jwks')]), 'loopback needs no admin key');
    assert.doesNotThrow(() => checkPageAuth(http({ host: '0.0.0.0', statusPage: false }), []), '/metrics only, open');
    const refused = (over: Record<string, unknown>, path: string): void =>
      assert.throws(
        () => checkPageAuth(http(over), [key('jwks')]),
        (e: unknown) => e instanceof ConfigError && e.problems[0]!.path === path,
      );
    refused({ host: '0.0.0.0' }, 'http.host');
    refused({ host: '127.0.0.1', pageAuth: 'always' }, 'http.host');
    refused({ host: '127.0.0.1', metricsAuth: true }, 'http.metricsAuth');
    assert.doesNotThrow(() => checkPageAuth({ ...http({ host: '0.0.0.0' }), enabled: false }, []), 'no HTTP, no page');
  });
});
