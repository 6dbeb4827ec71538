// A free TCP port on loopback (bind to 0, read it, close). There is a small race
// with other processes; benchmarks retry a failed start once.
import { type AddressInfo, createServer } from 'node:net';

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
