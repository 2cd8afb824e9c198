import { parseArgs } from 'node:util';
import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { EVENT_CONTEXTS, eventSubject, loadConfig } from '../src/config/config.js';
import type { CloudEvent } from '../src/events/envelope.js';
import { connectNats } from '../src/events/nats.js';
import { describeFailure } from '../src/process.js';

const USAGE = `Prints each event on the bus as one line: time, type, subject, id.

  npm run events:tail -- --subject orders.dev.events   one subject
  npm run events:tail -- --all                         every context of EVENTS_ENV (the default)
  options: --from-start  print what the streams already hold first
           --help

NATS_URL and EVENTS_ENV are read as by the service. Ctrl-C stops.`;

class UsageError extends Error {
  readonly code = 'USAGE';
}

function asEvent(message: JsMsg): Partial<CloudEvent> | undefined {
  try {
    const parsed = message.json<Partial<CloudEvent> | null>();
    return typeof parsed?.type === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** One line per message; anything that is not a CloudEvent is still shown, so a bad producer is visible. */
function line(message: JsMsg): string {
  const event = asEvent(message);
  const fields = event
    ? [event.time ?? message.time.toISOString(), String(event.type), event.subject ?? '-', event.id ?? '-']
    : [message.time.toISOString(), '(not a CloudEvent)', message.subject, `seq ${message.seq}`];
  fields[1] = fields[1]!.padEnd(24);
  return fields.join('  ');
}

async function main() {
  const { values } = parseArgs({
    options: {
      subject: { type: 'string', multiple: true },
      all: { type: 'boolean', default: false },
      'from-start': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  // A reader of the bus needs neither the API's auth settings nor a database.
  const config = loadConfig({ ...process.env, AUTH: 'off' });
  const subjects =
    values.all || !values.subject?.length
      ? EVENT_CONTEXTS.map((context) => eventSubject(config, context))
      : values.subject;

  const nc = await connectNats(config.NATS_URL, 'events-tail');
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const running: ConsumerMessages[] = [];
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) process.exit(code);
    stopping = true;
    await Promise.all(running.map((messages) => messages.close().catch(() => undefined)));
    await nc.close().catch(() => undefined);
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  // `| head` closes the pipe: that is a normal way to stop reading.
  process.stdout.on('error', () => void stop(0));

  for (const subject of subjects) {
    const stream = await jsm.streams.find(subject).catch(() => {
      throw new UsageError(`no stream holds ${subject} (is EVENTS_ENV=${config.EVENTS_ENV} right?)`);
    });
    // An ordered consumer: ephemeral, in stream order, gone when this process goes.
    const consumer = await js.consumers.get(stream, {
      filter_subjects: subject,
      deliver_policy: values['from-start'] ? DeliverPolicy.All : DeliverPolicy.New,
    });
    const messages = await consumer.consume();
    running.push(messages);
    void (async () => {
      for await (const message of messages) process.stdout.write(`${line(message)}\n`);
    })().catch((error: unknown) => {
      process.stderr.write(`events:tail: ${subject}: ${describeFailure(error)}\n`);
      void stop(1);
    });
  }
  process.stderr.write(`tailing ${subjects.join(', ')} on ${config.NATS_URL} (Ctrl-C to stop)\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`events:tail: ${describeFailure(error)}\n`);
  if (error instanceof UsageError) process.stderr.write(`\n${USAGE}\n`);
  process.exit(1);
});
