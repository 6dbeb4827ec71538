// Authentication of the local clients: JWT verification (local keys or JWKS), the
// token cache, rate limiting of failures, and revocation.
import { bool, file, int, list, num, obj, oneOf, record, secret, str } from '../spec.js';

export const JWT_ALGORITHMS = [
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

const DAY = 86_400;

const jwtSpec = obj({
  from: oneOf(['password', 'username'], 'password', '`password` or `username`: where the token is in CONNECT'),
  secret: secret(
    'HMAC secret (HS256/384/512). With no secret, pubkey or JWKS URL, a random 256-bit secret is generated in `dataDir/jwt-secret` (0600) on first ' +
      'start, written atomically and fsynced. One that exists but is empty, unreadable or not a secret stops the daemon with exit 2 naming the file and is ' +
      'never replaced: restore it or delete it ([install.md](install.md#the-data-directory))',
  ),
  secretBase64: bool(false, '`secret` is base64 (or base64url) encoded'),
  pubkey: file('PEM public key (SPKI) or X.509 certificate: RSA (RS*, PS*), EC P-256/384/521 (ES256/384/512), Ed25519 (EdDSA)'),
  algorithms: list(oneOf(JWT_ALGORITHMS), {
    description: 'allow-list of `alg` values; empty = every algorithm that fits the configured keys; `none` is never accepted',
  }),
  verifyClaims: record(
    str(),
    'claim → expected value; `%u` (or `${username}`) = MQTT username, `%c` (or `${clientid}`) = client id; a string claim must equal it, an array claim ' +
      'must contain it, a missing claim fails',
  ),
  clockToleranceSec: num({ min: 0, max: 30 * DAY, default: 30, description: 'leeway for `exp` and `nbf` (sensors with skewed clocks)' }),
  maxAgeSec: num({
    min: 0,
    default: 0,
    description: 'if > 0, refuse tokens whose `iat` is older than this, missing, or in the future beyond `clockToleranceSec`',
  }),
  maxTokenBytes: int(64, 1_048_576, 8192, 'longer tokens are refused without parsing'),
  aclClaim: str({ nonEmpty: true, default: 'acl', description: 'claim holding topic permissions' }),
  defaultAcl: oneOf(['allow', 'deny'], 'allow', '`allow` or `deny` when a token has no ACL claim'),
  disconnectOnExpiry: bool(true, "close a client's connection when its token expires (at `exp` + tolerance)"),
  signatureFormat: oneOf(
    ['raw', 'der'],
    'raw',
    "ECDSA signature encoding of ES256/384/512 tokens: `raw` (JOSE, `r‖s`) or `der` (ASN.1 DER, as EMQX 4's `signature_format = der` and older device " +
      'SDKs produce); other algorithms are unaffected ([authentication.md](authentication.md#keys-and-algorithms))',
  ),
  jwks: obj({
    url: str({ default: '', description: 'http(s) JWKS endpoint; public-key algorithms only; up to 3 redirects followed, never from https to http' }),
    refreshIntervalSec: num({ min: 1, default: 300, description: 'periodic refresh' }),
    timeoutSec: num({ min: 0.1, max: 300, default: 5, description: 'per request' }),
    maxStaleSec: num({ min: 0, default: 30 * DAY, description: 'how long the last good key set stays usable without a successful refresh' }),
    caFile: file('extra CA for the JWKS endpoint'),
  }),
});

export const authSpec = obj({
  jwt: jwtSpec,
  aclDenyAction: oneOf(['ignore', 'disconnect'], 'ignore', 'denied publish: `ignore` (acknowledge and drop) or `disconnect`'),
  cache: obj({
    enabled: bool(true, 'verified-token cache (memory LRU, persisted in SQLite)'),
    maxEntries: int(1, 10_000_000, 10_000, 'cache size'),
    negativeTtlSec: num({ min: 0, default: 60, description: 'remember a token that failed its signature check for this long' }),
  }),
  rateLimit: obj({
    maxFailures: int(0, 1_000_000, 10, 'failed authentications from one address within the window that trigger a ban (0 = off)'),
    windowSec: num({ min: 1, default: 60, description: 'counting window' }),
    banSec: num({
      min: 0,
      default: 300,
      description:
        'ban length: CONNECTs refused without any JWT work. `edgegate auth bans` lists bans, `edgegate auth unban ADDRESS|--all` lifts them ' +
        '([offline.md](offline.md#failed-authentication-rate-limiting))',
    }),
  }),
  revocation: obj({
    pollIntervalSec: num({ min: 0.1, max: 3600, default: 2, description: 'how often the daemon picks up revocations made with the CLI' }),
    topic: str({
      default: '',
      description:
        'local topic (fed by a bridge `in` rule, pattern `<topic>/#` so the retained `<topic>/snapshot` comes too) on which the cloud pushes ' +
        'revocations: signed events and snapshots from `edgegate fleet` ([fleet.md](fleet.md#signed-revocations)), or with `requireSigned` false also ' +
        'unsigned `{"jti":…}` / `{"sub":…}`',
    }),
    maxEntries: int(
      1,
      10_000_000,
      100_000,
      'most revocations kept (1..10000000); when full, new ones are refused (never silently dropped): the CLI exits 1, the topic path logs and counts ' +
        '`edgegate_revocations_refused_total` ([offline.md](offline.md#revocation))',
    ),
    keys: list(str({ file: true }), {
      maxItems: 16,
      description:
        'PEM public keys (files; EC P-256 for ES256 or Ed25519 for EdDSA, at most 16) that may sign fleet revocations and snapshots on ' +
        '`auth.revocation.topic` (made with `edgegate fleet revoke`; [fleet.md](fleet.md#signed-revocations)). Each key is known by its RFC 7638 ' +
        'thumbprint (the `kid` of what it signs); `seq` is tracked per key',
    }),
    requireSigned: bool(
      true,
      'refuse (log, count in `edgegate_fleet_revocations_refused_total{reason="unsigned"}`) unsigned JSON messages on `auth.revocation.topic`; with the ' +
        'topic set, `true` and no `keys`, start-up fails with exit code 2 naming `auth.revocation.keys`. `false` keeps the unsigned ' +
        '`{"jti":…}`/`{"sub":…}` messages of earlier versions (anyone who may publish on the cloud topic can then revoke and unrevoke)',
    ),
  }),
});
