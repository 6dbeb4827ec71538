#!/usr/bin/env node
// The `edgegate` command.
import { Command } from 'commander';
import { packageVersion } from '../buildInfo.js';
import { collect } from './common.js';
import { configCheck } from './configCheck.js';
import { keysGenerate } from './keys.js';
import { runDaemon } from './run.js';
import { tokenMint, tokenVerify } from './token.js';

const program = new Command('edgegate')
  .description('MQTT edge gateway: local broker with JWT authentication, cloud bridge, serial sensors')
  .version(packageVersion());

program.command('run').description('run the gateway daemon in the foreground').action(runDaemon);

const token = program.command('token').description('mint, verify and revoke sensor tokens');
token
  .command('mint')
  .description('print a signed JWT on stdout (default: HS256 with the configured or generated secret)')
  .requiredOption('--sub <subject>', 'subject (sensor name)')
  .option('--ttl <duration>', 'lifetime: 3600, 90s, 15m, 1h, 7d; 0 = no exp', '1h')
  .option('--claim <key=value>', 'extra claim (value parsed as JSON when it can be); repeatable', collect)
  .option('--acl-pub <filter>', 'topic filter the token may publish to; repeatable', collect)
  .option('--acl-sub <filter>', 'topic filter the token may subscribe to; repeatable', collect)
  .option('--acl-all <filter>', 'topic filter for both; repeatable', collect)
  .option('--alg <alg>', 'signing algorithm (HS256/384/512, or fitting --key)')
  .option('--key <file>', 'PEM private key (PKCS#8) to sign with instead of the secret')
  .option('--kid <kid>', 'key id header')
  .option('--jti <id>', 'token id (default: a random UUID, so the token can be revoked)')
  .action(tokenMint);
token
  .command('verify <token>')
  .description('verify a token exactly as the broker would; exit 0 valid, 1 invalid')
  .option('--username <u>', 'MQTT username to check %u claims against')
  .option('--client-id <c>', 'MQTT client id to check %c claims against')
  .action(tokenVerify);

program
  .command('keys')
  .description('key management')
  .command('generate')
  .description('write private.pem (0600) and public.pem into DIR')
  .requiredOption('--alg <alg>', 'ES256, ES384, ES512, RS256, PS256 or EdDSA')
  .requiredOption('--out <dir>', 'output directory')
  .action(keysGenerate);

program.command('config').description('configuration').command('check').description('validate and print the effective configuration (secrets redacted)').action(configCheck);

await program.parseAsync(process.argv);
