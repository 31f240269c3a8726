// Free loopback TCP ports for test servers.
//
// We ask the kernel for an ephemeral port by listening on 127.0.0.1:0, read
// the port back and close the socket. There is an unavoidable race between
// closing and the server re-binding it, but ephemeral ports are allocated
// round-robin by Linux so reuse within a test run is very unlikely. We also
// never hand out the same port twice within one process, and never the
// well-known etcd ports 2379/2380 (a system etcd might be listening there).

import net from 'node:net';

const RESERVED = new Set([2379, 2380]);
const handedOut = new Set<number>();

function listenOnce(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Returns one free TCP port on 127.0.0.1 (never 2379/2380, never repeated in this process). */
export async function getFreePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await listenOnce();
    if (port > 0 && !RESERVED.has(port) && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('getFreePort: could not find a free port after 50 attempts');
}

/** Returns `n` distinct free TCP ports on 127.0.0.1. */
export async function getFreePorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < n; i++) ports.push(await getFreePort());
  return ports;
}
