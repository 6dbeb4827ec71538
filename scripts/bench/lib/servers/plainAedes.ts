// Plain aedes with no authentication, as a baseline for benchmarks. Run as a
// child process: `node --import tsx scripts/bench/lib/servers/plainAedes.ts <port>`.
// Prints "ready <port>" on stdout once listening; exits on SIGTERM/SIGINT.

import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const port = Number(process.argv[2] ?? 0);
const broker = await Aedes.createBroker({ id: 'plain-aedes', heartbeatInterval: 60_000 });
const server = createServer((socket) => {
  socket.on('error', () => undefined);
  socket.setNoDelay(true);
  broker.handle(socket);
});
// Same listen backlog as edgegate's listeners (src/broker/listeners.ts), so the comparison is fair.
server.listen({ port, host: '127.0.0.1', backlog: 1024 }, () => {
  const address = server.address();
  process.stdout.write(`ready ${typeof address === 'object' && address ? address.port : port}\n`);
});
const stop = (): void => {
  server.close();
  broker.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
