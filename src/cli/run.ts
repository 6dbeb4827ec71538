// `edgegate run`: the daemon in the foreground, as systemd runs it.
import { Daemon } from '../daemon/daemon.js';
import { configOrExit, failAndExit } from './common.js';

const STOP_DEADLINE_MS = 5000;

export async function runDaemon(): Promise<void> {
  // The daemon itself logs a deprecated key (a warn line in its log, where the operator looks).
  const config = await configOrExit({ warnDeprecated: false });
  const daemon = new Daemon(config);
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    daemon.logger.info({ signal }, 'shutting down');
    // Whatever happens, exit within the deadline (systemd's stop would SIGKILL later).
    setTimeout(() => process.exit(0), STOP_DEADLINE_MS - 500).unref();
    daemon.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('uncaughtException', (err) => {
    daemon.logger.fatal({ err }, 'uncaught exception');
    daemon.stop().then(
      () => process.exit(1),
      () => process.exit(1),
    );
  });
  try {
    await daemon.start();
  } catch (err) {
    await daemon.stop();
    failAndExit(err);
  }
}
