import pino from 'pino';
// The one place the catalog reaches into src/: the app that serves /openapi.json also builds it here.
import type { ApiDeps } from '../../src/api/app.js';
import { createApp } from '../../src/api/app.js';
import { loadConfig } from '../../src/config/config.js';

export class ServerDependencyUsedError extends Error {
  readonly code = 'SERVER_DEPENDENCY_USED';

  constructor(readonly dependency: string) {
    super(`building the OpenAPI document used ${dependency}; it must only read the route declarations`);
    this.name = 'ServerDependencyUsedError';
  }
}

/** Stands in for a server connection that request handlers use; declaring the routes must not touch it. */
function unreachable<T extends object>(dependency: string): T {
  return new Proxy({} as T, {
    get() {
      throw new ServerDependencyUsedError(dependency);
    },
  });
}

/** The document `GET /openapi.json` serves, built in-process from the same route declarations, with no servers. */
export function servedOpenApiDocument() {
  const deps: ApiDeps = {
    config: loadConfig({ AUTH: 'off' }),
    db: unreachable('PostgreSQL'),
    temporal: unreachable('Temporal'),
    events: unreachable('NATS'),
    outbox: unreachable('the outbox'),
    logger: pino({ level: 'silent' }),
  };
  return createApp(deps).document;
}

export type OpenApiDocument = ReturnType<typeof servedOpenApiDocument>;
