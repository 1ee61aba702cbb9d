// Binding and closing the companion's servers, with errors that say which flag to change.
import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { MeshError } from '../protocol/errors.ts';

export function listen(server: Server | HttpsServer, host: string, port: number, name: string, flag: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (error) => reject(portError(error, name, port, flag)));
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

export function portError(error: unknown, name: string, port: number, flag: string): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE' || /EADDRINUSE/.test(String((error as Error).message))) {
    return new MeshError('port_in_use', `${name}: port ${port} is already in use (another npm start?); stop it or pick another port with ${flag}`, {
      cause: error,
    });
  }
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
    return new MeshError('bad_host', `${name}: cannot bind to this host (${(error as Error).message}); pick another with --host`, { cause: error });
  }
  return error as Error;
}

export function close(server: Server | HttpsServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Keep-alive sockets and open streams would hold close() open; Ctrl-C must not wait for them.
    server.closeAllConnections();
  });
}
