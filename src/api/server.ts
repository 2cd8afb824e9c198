import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApiDeps } from './app.js';
import { createApp } from './app.js';

export interface RunningApi {
  port: number;
  server: Server;
  /**
   * Stops accepting connections, marks the API as draining (/readyz 503, `Connection: close` on every response),
   * lets in-flight requests finish, then closes idle keep-alive sockets. Requests still running after `graceMs` are
   * cut off so shutdown is bounded.
   */
  close(graceMs?: number): Promise<void>;
}

const DEFAULT_GRACE_MS = 30_000;

export async function startApiServer(deps: ApiDeps, port = deps.config.PORT): Promise<RunningApi> {
  const { app, lifecycle } = createApp(deps);
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(port, '0.0.0.0', (error?: Error) => (error ? reject(error) : resolve(s)));
  });
  // Keep-alive sockets must not hold shutdown open longer than a request takes.
  server.keepAliveTimeout = 5_000;
  // A request that was already running when shutdown began leaves its socket idle when it ends: close it then,
  // rather than after keepAliveTimeout.
  server.on('request', (_req, res: ServerResponse) => {
    res.on('finish', () => {
      if (lifecycle.draining) setImmediate(() => server.closeIdleConnections());
    });
  });
  let closing: Promise<void> | undefined;
  return {
    port: (server.address() as AddressInfo).port,
    server,
    close: (graceMs = DEFAULT_GRACE_MS) =>
      (closing ??= new Promise<void>((resolve, reject) => {
        lifecycle.draining = true;
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        force.unref();
        server.close((error) => {
          clearTimeout(force);
          if (error) reject(error);
          else resolve();
        });
        server.closeIdleConnections();
      })),
  };
}
