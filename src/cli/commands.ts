// The `edgegate` command line (commander); src/cli/main.ts is the entry point.
import { Command } from 'commander';
import { versionWithCommit } from '../config/buildInfo.js';
import { collect } from './common.js';

// Each command's module is imported only when that command runs: `config check`
// or `token mint` need not load aedes, SQLite and the daemon (about 0.4 s saved
// per command, more on a Pi).
// biome-ignore lint/suspicious/noExplicitAny: commander hands each action its own argument list
type AnyAction = (...args: any[]) => void | Promise<void>;
function lazy<M>(load: () => Promise<M>, pick: (m: M) => AnyAction): AnyAction {
  // biome-ignore lint/suspicious/noExplicitAny: as AnyAction's
  return async (...args: any[]) => pick(await load())(...args);
}
const configCheck = lazy(
  () => import('./configCheck.js'),
  (m) => m.configCheck,
);
const keysGenerate = lazy(
  () => import('./keys.js'),
  (m) => m.keysGenerate,
);
const runDaemon = lazy(
  () => import('./run.js'),
  (m) => m.runDaemon,
);
const statusCommand = lazy(
  () => import('./status.js'),
  (m) => m.statusCommand,
);
const tokenMint = lazy(
  () => import('./token.js'),
  (m) => m.tokenMint,
);
const tokenVerify = lazy(
  () => import('./token.js'),
  (m) => m.tokenVerify,
);
const tokenRevocations = lazy(
  () => import('./revocation.js'),
  (m) => m.tokenRevocations,
);
const tokenRevoke = lazy(
  () => import('./revocation.js'),
  (m) => m.tokenRevoke,
);
const tokenUnrevoke = lazy(
  () => import('./revocation.js'),
  (m) => m.tokenUnrevoke,
);
const authBans = lazy(
  () => import('./bans.js'),
  (m) => m.authBans,
);
const authUnban = lazy(
  () => import('./bans.js'),
  (m) => m.authUnban,
);
const fleetRevoke = lazy(
  () => import('./fleetRevoke.js'),
  (m) => m.fleetRevoke,
);
const fleetUnrevoke = lazy(
  () => import('./fleetRevoke.js'),
  (m) => m.fleetUnrevoke,
);
const fleetRevocations = lazy(
  () => import('./fleetRevoke.js'),
  (m) => m.fleetRevocations,
);
const fleetStatus = lazy(
  () => import('./fleetStatus.js'),
  (m) => m.fleetStatus,
);

const program = new Command('edgegate')
  .description('MQTT edge gateway: local broker with JWT authentication, cloud bridge, serial sensors')
  .version(versionWithCommit());

program.command('run').description('run the gateway daemon in the foreground').action(runDaemon);

const auth = program.command('auth').description('addresses banned after repeated failed authentications (auth.rateLimit)');
auth.command('bans').description('list the banned addresses and how long each ban lasts').option('--json', 'as JSON').action(authBans);
auth
  .command('unban [address]')
  .description('lift a ban now (a running daemon applies it within a second); exit 1 when it was not banned')
  .option('--all', 'lift every ban')
  .action(authUnban);

const token = program.command('token').description('mint, verify and revoke sensor tokens');
token
  .command('mint')
  .description('print a signed JWT on stdout (default: HS256 with the configured or generated secret)')
  .requiredOption('--sub <subject>', 'subject (sensor name)')
  .option('--ttl <duration>', 'lifetime: 3600, 90s, 15m, 1h, 7d; 0 = no exp (default: 1h, unless --claim exp=... sets exp itself)')
  .option('--claim <key=value>', 'extra claim (value parsed as JSON when it can be); repeatable', collect)
  .option('--acl-pub <filter>', 'topic filter the token may publish to; repeatable', collect)
  .option('--acl-sub <filter>', 'topic filter the token may subscribe to; repeatable', collect)
  .option('--acl-all <filter>', 'topic filter for both; repeatable', collect)
  .option('--alg <alg>', 'signing algorithm (HS256/384/512, or fitting --key)')
  .option('--key <file>', 'PEM private key (PKCS#8) to sign with instead of the secret')
  .option('--kid <kid>', 'key id header')
  .option('--jti <id>', 'token id (default: a random UUID, so the token can be revoked)')
  .option('--admin', 'add the claim "edgegate": {"admin": true}: a token to log in to the status page with')
  .addHelpText(
    'after',
    `
Using the token:
  MQTT 3.1.1 or 5, as the password:   mosquitto_pub -u sensor-1 -P "$TOKEN" -t sensors/sensor-1/temp -m 21.5
  MQTT 5, as Authentication Data:     CONNECT property authenticationMethod "JWT", authenticationData = the token
Renewing without reconnecting (MQTT 5, a client that connected with method JWT):
  mint a new token before the old one expires and send AUTH with reason code 0x19,
  authenticationMethod "JWT" and the new token as authenticationData; the gateway
  answers AUTH 0x00 (new ACL and expiry from then on) or DISCONNECT 0x87.
  mqtt.js:  client.stream.write(mqttPacket.generate({ cmd: 'auth', reasonCode: 0x19,
              properties: { authenticationMethod: 'JWT', authenticationData: Buffer.from(token) } },
              { protocolVersion: 5 }))
  paho-mqtt (Python) has no AUTH call: reconnect with the new token before the old expires
  (clean_start=False and a Session Expiry Interval keep the session).
  See docs/authentication.md#renewing-a-token-mqtt-5.`,
  )
  .action(tokenMint);
token
  .command('verify <token>')
  .description('verify a token exactly as the broker would; exit 0 valid, 1 invalid')
  .option('--username <u>', 'MQTT username to check %u claims against')
  .option('--client-id <c>', 'MQTT client id to check %c claims against')
  .action(tokenVerify);
token
  .command('revoke')
  .description('revoke a token by jti or every token of a subject; a running daemon applies it within seconds')
  .option('--jti <id>', 'token id (jti claim)')
  .option('--sub <subject>', 'subject (sub claim): all its tokens')
  .option('--reason <text>', 'why (shown by `token revocations`)')
  .action(tokenRevoke);
token
  .command('unrevoke')
  .description('remove a revocation')
  .option('--jti <id>', 'token id (jti claim)')
  .option('--sub <subject>', 'subject (sub claim)')
  .action(tokenUnrevoke);
token.command('revocations').description('list revocations').option('--json', 'print JSON').action(tokenRevocations);

// `edgegate fleet ...`: run by the operator anywhere that reaches the cloud broker (docs/fleet.md).
/** The cloud connection options every fleet command takes. */
function cloudOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--cloud <url>', 'cloud broker: mqtt://host:1883, mqtts://host:8883 (also ws://, wss://)')
    .option('--username <u>', 'cloud user name')
    .option('--password <p>', 'cloud password (or set EDGEGATE_CLOUD_PASSWORD, which stays out of `ps`)')
    .option('--client-id <id>', 'client id on the cloud (default: edgegate-fleet-<random>)')
    .option('--jwt-key <file>', 'sign a JWT as password with this PEM private key, as the bridge does (bridge.jwt.*)')
    .option('--jwt-alg <alg>', 'its algorithm (RS*, PS*, ES*, EdDSA)', 'ES256')
    .option('--jwt-ttl <seconds>', 'its lifetime', '300')
    .option('--jwt-audience <aud>', 'its aud claim')
    .option('--ca <file>', 'CA bundle to verify the cloud (mqtts://, wss://)')
    .option('--cert <file>', 'client certificate (X.509 authentication, e.g. AWS IoT Core)')
    .option('--cert-key <file>', 'its private key')
    .option('--insecure', 'do not verify the cloud certificate')
    .option('--timeout <seconds>', 'give up connecting or waiting for an acknowledgement after this long', '10');
}
const fleet = program.command('fleet').description('many gateways, one cloud: signed fleet-wide revocations and fleet status');
for (const [name, action, description] of [
  ['revoke', fleetRevoke, 'revoke a token (jti) or subject on every gateway: publishes a signed event and the new retained snapshot'],
  ['unrevoke', fleetUnrevoke, 'lift a fleet revocation on every gateway'],
] as const) {
  cloudOptions(fleet.command(name).description(description))
    .requiredOption('--key <file>', 'PEM private key (P-256 or Ed25519) that signs; its state (seq, list) is kept in <file>.fleet-state.json')
    .option('--jti <id>', 'token id (jti claim)')
    .option('--sub <name>', 'subject (sub claim): all its tokens')
    .option('--reason <text>', 'why (up to 256 characters, in the snapshot)')
    .option('--topic <topic>', 'cloud revocation topic; the snapshot goes to <topic>/snapshot', 'edgegate/revocations')
    .option('--previous-key <file>', 'after a key rotation: the old key (public or private PEM), to carry its snapshot over')
    .action(action);
}
cloudOptions(fleet.command('revocations').description("print the cloud's retained revocation snapshot; exit 1 when there is none"))
  .option('--topic <topic>', 'cloud revocation topic', 'edgegate/revocations')
  .option('--key <file>', 'check the signature with this key (public or private PEM)')
  .option('--json', 'print JSON')
  .action(fleetRevocations);
cloudOptions(
  fleet.command('status').description('list the gateways on the cloud; exit 0 when all are online and fresh, 1 otherwise (an unreachable cloud included)'),
)
  .option('--prefix <p>', 'remotePrefix of the gateways (their first bridge rule)', '')
  .option('--json', 'print JSON')
  .option('--stale-after <seconds>', 'a health summary older than this is stale (default: twice its interval + 30 s)')
  .option('--wait <seconds>', 'collect retained messages until the cloud has been quiet this long', '1')
  .action(fleetStatus);

program
  .command('keys')
  .description('key management')
  .command('generate')
  .description('write private.pem (0600) and public.pem into DIR')
  .requiredOption('--alg <alg>', 'ES256, ES384, ES512, RS256, PS256 or EdDSA')
  .requiredOption('--out <dir>', 'output directory')
  .action(keysGenerate);

program
  .command('config')
  .description('configuration')
  .command('check')
  .description('validate and print the effective configuration (secrets redacted)')
  .action(configCheck);

program
  .command('status')
  .description("print the running daemon's health (GET /healthz); exit 0 healthy, 1 unhealthy, 3 unreachable")
  .option('--url <url>', 'health endpoint (default: from http.host/http.port of the configuration)')
  .option('--json', 'print the raw JSON report')
  .option('--timeout <seconds>', 'give up after this many seconds', '5')
  .action(statusCommand);

/** Parses `argv` and runs the command it names. */
export async function runCommandLine(argv: string[] = process.argv): Promise<void> {
  await program.parseAsync(argv);
}
