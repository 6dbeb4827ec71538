#!/usr/bin/env node
// The `edgegate` entry point. It imports nothing at the top, so that the Node.js
// version check runs before any module that needs a newer Node is linked, and
// `edgegate run` (how systemd starts the daemon) goes straight to the daemon
// without loading the command-line parser (less memory and start-up on a Pi).
import { nodeTooOldMessage, nodeVersionAtLeast } from './nodeVersion.js';

async function main(): Promise<void> {
  if (!nodeVersionAtLeast(process.version)) {
    process.stderr.write(nodeTooOldMessage(process.version));
    process.exit(1);
  }
  if (process.argv.length === 3 && process.argv[2] === 'run') await (await import('./run.js')).runDaemon();
  else await (await import('./commands.js')).runCommandLine();
}

main().catch((err: unknown) => {
  // The commands report their own errors; this is a bug's stack trace, as Node would print it.
  console.error(err);
  process.exit(1);
});
