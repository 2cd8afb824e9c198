import { parseArgs } from 'node:util';
import { jetstream } from '@nats-io/jetstream';
import { Client } from '@temporalio/client';
import type { Config } from '../config/config.js';
import { createDb } from '../db/client.js';
import { connectNats } from '../events/nats.js';
import { listAttention } from '../ops/attention.js';
import { deadLetterOutbox, listStuckOutbox, retryOutbox } from '../ops/outbox.js';
import { dropParked, listParked, replayParked, showParked } from '../ops/parked.js';
import { connectClient } from '../temporal/connection.js';
import { dataConverter, payloadCodec } from '../temporal/payload-codec.js';

export const USAGE = `Operator tooling against the service's database, NATS and Temporal (same settings as the service).

  npm run ops -- attention                       orders flagged NeedsAttention, with the workflow's reason
  npm run ops -- parked list [--consumer NAME]   parked inbound messages
  npm run ops -- parked show <id>                one, with its payload
  npm run ops -- parked replay <id>              publish it again for the running consumer; removes the row
  npm run ops -- parked drop <id>                delete it
  npm run ops -- outbox stuck [--min-attempts N] [--dead-lettered]
                                                 unpublished rows that failed, with attempts and last_error
  npm run ops -- outbox retry <seq>              clear the row's backoff (or dead-letter mark): publish it now
  npm run ops -- outbox dead-letter <seq>        set the row aside; its aggregate's later events go out
  options: --json  machine-readable output     --help`;

export class UsageError extends Error {
  readonly code = 'USAGE';
}

function argument(positionals: string[], index: number, name: string): string {
  const value = positionals[index];
  if (!value) throw new UsageError(`missing <${name}>`);
  return value;
}

function outboxSeq(positionals: string[]): bigint {
  const value = argument(positionals, 2, 'seq');
  if (!/^\d+$/.test(value)) throw new UsageError(`<seq> must be a number, got ${value}`);
  return BigInt(value);
}

/**
 * Runs one operator command (see USAGE) with the service's configuration; output goes to `write`. With --json
 * the result is JSON, otherwise a table for people.
 */
export async function runOps(args: string[], config: Config, write: (text: string) => void): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      consumer: { type: 'string' },
      'min-attempts': { type: 'string', default: '1' },
      'dead-lettered': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help || positionals.length === 0) {
    write(`${USAGE}\n`);
    return;
  }
  const print = (result: unknown, human: () => void) => {
    if (values.json) write(`${JSON.stringify(result, null, 2)}\n`);
    else human();
  };
  const say = (text: string) => write(`${text}\n`);
  const table = (rows: object[], empty: string) => (rows.length ? console.table(rows) : say(empty));
  const db = createDb(config.DATABASE_URL);
  const closers: (() => Promise<unknown>)[] = [() => db.$disconnect()];
  try {
    const [area, command] = positionals;
    const key = command ? `${area} ${command}` : area;
    switch (key) {
      case 'attention': {
        const connection = await connectClient(config.TEMPORAL_ADDRESS);
        closers.push(() => connection.close());
        // The workflows' query answers are encrypted like every payload: decode them with the service's keys.
        const temporal = new Client({
          connection,
          namespace: config.TEMPORAL_NAMESPACE,
          dataConverter: dataConverter(payloadCodec(config)),
        });
        const orders = await listAttention(db, temporal);
        return print(orders, () => table(orders, 'no order needs attention'));
      }
      case 'parked list': {
        const parked = await listParked(db, values.consumer ? { consumer: values.consumer } : {});
        return print(parked, () => table(parked, 'no parked messages'));
      }
      case 'parked show': {
        const parked = await showParked(db, argument(positionals, 2, 'id'));
        return print(parked, () => say(JSON.stringify(parked, null, 2)));
      }
      case 'parked replay': {
        const nats = await connectNats(config.NATS_URL, 'orders-ops');
        closers.push(() => nats.drain());
        const id = argument(positionals, 2, 'id');
        const replayed = await replayParked(db, jetstream(nats), id);
        return print({ id, ...replayed }, () => say(`replayed ${id} as stream message ${replayed.streamSeq}`));
      }
      case 'parked drop': {
        const id = argument(positionals, 2, 'id');
        await dropParked(db, id);
        return print({ id, dropped: true }, () => say(`dropped ${id}`));
      }
      case 'outbox stuck': {
        const minAttempts = Number(values['min-attempts']);
        if (!Number.isInteger(minAttempts) || minAttempts < 0) throw new UsageError('--min-attempts must be >= 0');
        const rows = await listStuckOutbox(db, { minAttempts, deadLettered: values['dead-lettered'] });
        return print(rows, () => table(rows, 'no stuck outbox rows'));
      }
      case 'outbox retry': {
        const seq = outboxSeq(positionals);
        await retryOutbox(db, seq);
        return print({ seq: String(seq), retry: true }, () => say(`outbox row ${seq} will be published next`));
      }
      case 'outbox dead-letter': {
        const seq = outboxSeq(positionals);
        await deadLetterOutbox(db, seq);
        return print({ seq: String(seq), deadLettered: true }, () => say(`outbox row ${seq} dead-lettered`));
      }
      default:
        throw new UsageError(`unknown command: ${positionals.join(' ')}`);
    }
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  }
}
