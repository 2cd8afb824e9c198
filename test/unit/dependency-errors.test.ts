import { ServiceError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { errorSummary, isDependencyUnavailable } from '../../src/api/errors.js';
import { isDatabaseConnectionLost } from '../../src/db/connection-errors.js';
import { Prisma } from '../../src/generated/prisma/client.js';

/** gRPC status codes by name (google.golang.org/grpc/codes), as the Temporal server sends them. */
const status = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;
const statusName = (code: number) => Object.entries(status).find(([, value]) => value === code)?.[0];

/** A Temporal client error as the client raises it: a ServiceError whose cause carries the gRPC status. */
function temporalError(code: number, details: string) {
  return new ServiceError('Workflow Update failed', {
    cause: Object.assign(new Error(`${code} ${statusName(code)}: ${details}`), { code, details, metadata: {} }),
  });
}

describe('which Temporal errors are a dependency being unavailable (503) and which are a bug (500)', () => {
  it.each([
    [status.UNAVAILABLE, 'shard status unknown', true],
    [status.DEADLINE_EXCEEDED, 'query timed out before a worker could process it', true],
    [status.RESOURCE_EXHAUSTED, 'namespace rate limit exceeded', true],
    [status.FAILED_PRECONDITION, 'Unable to query workflow due to Workflow Task in failed state.', true],
    [status.FAILED_PRECONDITION, 'No poller seen for task queue recently, worker may be down.', true],
    [status.CANCELLED, 'Call cancelled', true],
    [status.UNKNOWN, 'Stream removed', true],
    [status.ABORTED, 'workflow update was aborted', true],
    [status.INTERNAL, 'Received RST_STREAM with code 2', true],
    [status.INVALID_ARGUMENT, 'invalid query type', false],
    [status.ALREADY_EXISTS, 'workflow execution already started', false],
    [status.PERMISSION_DENIED, 'request unauthorized', false],
    [status.UNIMPLEMENTED, 'unknown method', false],
    [status.UNAUTHENTICATED, 'missing credentials', false],
  ])('gRPC %i (%s): unavailable is %s', (code, details, unavailable) => {
    expect(isDependencyUnavailable(temporalError(code, details))).toBe(unavailable);
  });

  it('takes a channel failure without a status, and an update call cut short, as unavailable', () => {
    expect(isDependencyUnavailable(new ServiceError('Unexpected error while making gRPC request'))).toBe(true);
    expect(isDependencyUnavailable(new WorkflowUpdateRPCTimeoutOrCancelledError('timeout'))).toBe(true);
  });

  it('leaves anything else to the 500', () => {
    expect(isDependencyUnavailable(new TypeError("Cannot read properties of undefined (reading 'currency')"))).toBe(
      false
    );
  });

  it('summarises an error for the log by class, code and message down its causes', () => {
    expect(errorSummary(temporalError(status.FAILED_PRECONDITION, 'not ready'))).toEqual([
      { name: 'ServiceError', message: 'Workflow Update failed' },
      { name: 'Error', code: 9, message: '9 FAILED_PRECONDITION: not ready' },
    ]);
  });
});

describe('which PostgreSQL errors are the database being unreachable (503)', () => {
  const known = (code: string, message: string) =>
    new Prisma.PrismaClientKnownRequestError(message, { code, clientVersion: Prisma.prismaVersion.client });
  const socket = (code: string) =>
    Object.assign(new Error(`connect ${code} 10.0.0.5:5432`), { code, syscall: 'connect' });

  it.each([
    ['a pool that gave no connection in time (P2024)', known('P2024', 'Timed out fetching a new connection')],
    [
      'a transaction that got no connection in time (P2028)',
      known('P2028', 'Transaction API error: Unable to start a transaction in the given time.'),
    ],
    [
      'a backend terminated under a query (57P01)',
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
    ],
    ['a dead client reused', new Error('Client has encountered a connection error and is not queryable')],
    ['an unreachable host', socket('EHOSTUNREACH')],
    ['an unreachable network', socket('ENETUNREACH')],
    ['a name that did not resolve for now', socket('EAI_AGAIN')],
    ['a connection aborted', socket('ECONNABORTED')],
  ])('%s is unavailable', (_what, error) => {
    expect(isDependencyUnavailable(error)).toBe(true);
    expect(isDatabaseConnectionLost(error)).toBe(true);
  });

  it.each([
    [
      'an expired transaction used again',
      known('P2028', 'Transaction API error: A query cannot be executed on an expired transaction.'),
    ],
    ['a unique constraint', known('P2002', 'Unique constraint failed on the fields: (`sku`)')],
    ['a syntax error', Object.assign(new Error('syntax error at or near "SELEC"'), { code: '42601' })],
  ])('%s is not', (_what, error) => {
    expect(isDependencyUnavailable(error)).toBe(false);
  });
});
