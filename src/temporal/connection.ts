import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';

export class TemporalUnavailableError extends Error {
  readonly code = 'TEMPORAL_UNAVAILABLE';
  constructor(address: string, cause: unknown) {
    super(
      `Temporal is not reachable at ${address}: start it with \`npm run dev\` or \`temporal server start-dev\`, or set TEMPORAL_ADDRESS`,
      {
        cause,
      }
    );
    this.name = 'TemporalUnavailableError';
  }
}

export async function connectClient(address: string): Promise<Connection> {
  try {
    return await Connection.connect({ address, connectTimeout: 5_000 });
  } catch (error) {
    throw new TemporalUnavailableError(address, error);
  }
}

export async function connectWorker(address: string): Promise<NativeConnection> {
  try {
    return await NativeConnection.connect({ address });
  } catch (error) {
    throw new TemporalUnavailableError(address, error);
  }
}
