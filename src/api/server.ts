import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApiDeps } from './app.js';
import { createApp } from './app.js';

export interface RunningApi {
  port: number;
  server: Server;
  /** Stops accepting connections, lets in-flight requests finish, then closes idle keep-alive sockets. */
  close(): Promise<void>;
}

export async function startApiServer(deps: ApiDeps, port = deps.config.PORT): Promise<RunningApi> {
  const { app } = createApp(deps);
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(port, '0.0.0.0', (error?: Error) => (error ? reject(error) : resolve(s)));
  });
  // Keep-alive sockets must not hold shutdown open longer than a request takes.
  server.keepAliveTimeout = 5_000;
  return {
    port: (server.address() as AddressInfo).port,
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      }),
  };
}
