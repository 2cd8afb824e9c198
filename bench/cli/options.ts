import { parseArgs } from 'node:util';

export const HELP = `npm run bench -- [options]

  --sweep C1,C2,...    concurrencies at which S-E2E, F-T-naive and F-T run (default 1,10,20: lat1_x needs 1,
                       tput_x needs 10 and 20); --concurrency is added if missing
  --concurrency C      the concurrency of F-T-park, F-P and of the CPU and commit counts (default 10)
  --orders N           measured items per scenario at C >= 10; below, min(N, max(20, 20 x C)) (default 200)
  --backend dev|postgres  Temporal server: dev = an in-memory dev server started for the run (default);
                       postgres = Temporal server 1.29.1 on PostgreSQL, provisioned for the run as npm run
                       cluster does (own databases and ports, removed at the end), or the one at --temporal-address
  --temporal-address host:port  with --backend postgres: an already-running server (npm run cluster) instead
  --temporal-databases a,b  PostgreSQL databases of that server, whose backends count as Temporal server CPU
                       (default temporal,temporal_visibility; only with --temporal-address)
                       (default temporal,temporal_visibility)
  --warmup N           discarded items before measuring, per kind (default 30)
  --products N         products the orders spread over (default 20; fewer = hotter stock rows)
  --lines N            lines per order, quantity 1 each (default 2)
  --confirm prefer|poll  POST with Prefer: wait=30, answered once confirmed (default), or poll the order row every --poll-ms
  --poll-ms N          row polling period of the driver (default 20)
  --sample N           workflows per scenario to describe() for history length / state transitions (default 10)
  --stats-wait-ms N    wait for PostgreSQL to flush its statistics around DB-measured scenarios (default 11000)
  --floor-locals on|off  F-T also runs the order's local activities as no-op local activities (default on)
  --skip-fp            skip F-P (the raw-pg database floor)
  --timeout-s N        per-order confirmation timeout (default 60)
  --cpu-profile        V8 CPU profile of this process during S-E2E at --concurrency, summarised by package
                       (slows the run: its ratios are not the ones to quote); written next to the results
`;

/** A bad command line: reported as one line with the usage, no stack. */
export class UsageError extends Error {}

/** postgres without `running`: the bench provisions its own server for the run. */
export type Backend = { kind: 'dev' } | { kind: 'postgres'; running?: { address: string; databases: string[] } };

export interface Options {
  sweep: number[];
  concurrency: number;
  orders: number;
  backend: Backend;
  warmup: number;
  products: number;
  lines: number;
  confirm: 'poll' | 'prefer';
  pollMs: number;
  sample: number;
  statsWaitMs: number;
  floorLocals: boolean;
  skipFp: boolean;
  timeoutMs: number;
  cpuProfile: boolean;
}

/** Items measured at concurrency C: fewer at low C, where each one takes a whole round of the workflow. */
export function itemsAt(options: Pick<Options, 'orders'>, concurrency: number): number {
  return Math.min(options.orders, Math.max(20, 20 * concurrency));
}

function int(name: string, value: string, min: number, max: number): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max} (got ${value})`);
  }
  return parsed;
}

function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value))
    throw new UsageError(`--${name} must be ${allowed.join(' or ')}`);
  return value as T;
}

/** Parses the command line; `--help` returns undefined after printing the usage. */
export function parseOptions(argv: string[]): Options | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        sweep: { type: 'string', default: '1,10,20' },
        concurrency: { type: 'string', default: '10' },
        orders: { type: 'string', default: '200' },
        backend: { type: 'string', default: 'dev' },
        'temporal-address': { type: 'string' },
        'temporal-databases': { type: 'string' },
        warmup: { type: 'string', default: '30' },
        products: { type: 'string', default: '20' },
        lines: { type: 'string', default: '2' },
        confirm: { type: 'string', default: 'prefer' },
        'poll-ms': { type: 'string', default: '20' },
        sample: { type: 'string', default: '10' },
        'stats-wait-ms': { type: 'string', default: '11000' },
        'floor-locals': { type: 'string', default: 'on' },
        'skip-fp': { type: 'boolean', default: false },
        'timeout-s': { type: 'string', default: '60' },
        'cpu-profile': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) return undefined;
  const concurrency = int('concurrency', values.concurrency, 1, 1_000);
  const sweep = values.sweep.split(',').map((value) => int('sweep', value.trim(), 1, 1_000));
  const kind = oneOf('backend', values.backend, ['dev', 'postgres'] as const);
  const address = values['temporal-address'];
  if (kind === 'dev' && address) throw new UsageError('--temporal-address applies to --backend postgres only');
  const databases = values['temporal-databases'];
  if (databases !== undefined && !address) {
    throw new UsageError('--temporal-databases describes the server at --temporal-address; give both or neither');
  }
  return {
    sweep: [...new Set([...sweep, concurrency])].sort((a, b) => a - b),
    concurrency,
    orders: int('orders', values.orders, 1, 100_000),
    backend:
      kind === 'dev'
        ? { kind }
        : address
          ? {
              kind,
              running: { address, databases: (databases ?? 'temporal,temporal_visibility').split(',').filter(Boolean) },
            }
          : { kind },
    warmup: int('warmup', values.warmup, 0, 100_000),
    products: int('products', values.products, 1, 10_000),
    lines: int('lines', values.lines, 1, 50),
    confirm: oneOf('confirm', values.confirm, ['poll', 'prefer'] as const),
    pollMs: int('poll-ms', values['poll-ms'], 1, 1_000),
    sample: int('sample', values.sample, 0, 1_000),
    statsWaitMs: int('stats-wait-ms', values['stats-wait-ms'], 0, 60_000),
    floorLocals: oneOf('floor-locals', values['floor-locals'], ['on', 'off'] as const) === 'on',
    skipFp: values['skip-fp'],
    timeoutMs: int('timeout-s', values['timeout-s'], 1, 3_600) * 1_000,
    cpuProfile: values['cpu-profile'],
  };
}
