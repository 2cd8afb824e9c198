import { once } from 'node:events';
import { createServer } from 'node:net';
import { Connection } from '@temporalio/client';
import { ORDER_SEARCH_ATTRIBUTES } from '../../src/workflows/search-attributes.js';
import { managedProcess } from './supervision.js';

export interface DevServerOptions {
  cli: string;
  port: number;
  /** Web UI port; omit for a headless server (tests). */
  uiPort?: number;
  /** SQLite file that keeps workflows across restarts; omit for an in-memory server. */
  dbFile?: string;
  logFile: string;
}

export interface DevServer {
  address: string;
  stop(): Promise<void>;
}

/** A free TCP port on loopback, for servers started by tests. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** Starts `temporal server start-dev` with the order search attributes and waits until it answers. */
export async function startTemporalDevServer(options: DevServerOptions): Promise<DevServer> {
  const attributes = ORDER_SEARCH_ATTRIBUTES.flatMap((key) => [
    '--search-attribute',
    `${key.name}=${SEARCH_ATTRIBUTE_TYPE_NAMES[key.type]}`,
  ]);
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    ...(options.uiPort ? ['--ui-port', String(options.uiPort)] : ['--headless']),
    ...(options.dbFile ? ['--db-filename', options.dbFile] : []),
    '--log-level',
    'warn',
    ...attributes,
  ];
  const address = `127.0.0.1:${options.port}`;
  const server = managedProcess({
    name: 'temporal server start-dev',
    command: options.cli,
    args,
    logFile: options.logFile,
    ready: () => temporalAnswers(address),
  });
  await server.start();
  return { address, stop: () => server.stop() };
}

/** Whether a Temporal frontend answers at `address`. */
export async function temporalAnswers(address: string): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: 1_000 });
  try {
    await connection.workflowService.getSystemInfo({});
    return true;
  } finally {
    await connection.close();
  }
}

/** The CLI's and the operator API's names of a search attribute type. */
export const SEARCH_ATTRIBUTE_TYPE_NAMES = { KEYWORD: 'Keyword', INT: 'Int', BOOL: 'Bool' } as const;
