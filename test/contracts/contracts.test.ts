import { readdirSync, readFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { Parser } from '@asyncapi/parser';
import { describe, expect, it } from 'vitest';
import {
  CONTRACTS_DIR,
  ContractNotFoundError,
  contractIndex,
  dataSchemaId,
  validateEnvelope,
  validateEventData,
} from '../../src/events/contracts.js';

const ASYNCAPI_FILE = join(CONTRACTS_DIR, 'asyncapi.yaml');
const ENVELOPE_FILE = 'envelope/cloudevent.schema.json';

const schemaFiles = readdirSync(CONTRACTS_DIR, { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.schema.json'))
  .map((file) => file.split(sep).join('/'))
  .sort();

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(CONTRACTS_DIR, file), 'utf8')) as Record<string, unknown>;
}

function firstExample(file: string): Record<string, unknown> {
  const examples = readJson(file)['examples'];
  if (!Array.isArray(examples) || examples.length === 0) throw new Error(`${file} has no examples`);
  return structuredClone(examples[0] as Record<string, unknown>);
}

function entryFor(type: string) {
  const entry = contractIndex().find((contract) => contract.type === type);
  if (!entry) throw new Error(`no contract for ${type}`);
  return entry;
}

function exampleOf(type: string): Record<string, unknown> {
  return firstExample(entryFor(type).file);
}

// Parsing resolves every $ref and validates every payload schema, so do it once for all the AsyncAPI tests.
let parsed: ReturnType<Parser['parse']> | undefined;
function parseAsyncApi(): ReturnType<Parser['parse']> {
  parsed ??= new Parser().parse(readFileSync(ASYNCAPI_FILE, 'utf8'), { source: ASYNCAPI_FILE });
  return parsed;
}

describe('contract schemas', () => {
  it('are all known to the contract index (plus the envelope), with $id matching their path', () => {
    const indexed = contractIndex().map((contract) => contract.file);
    expect(schemaFiles).toEqual([...indexed, ENVELOPE_FILE].sort());
    for (const contract of contractIndex()) {
      expect(contract.id).toBe(dataSchemaId(contract.context, contract.type, contract.version));
      expect(contract.file).toBe(`${contract.context}/${contract.type}/${contract.version}.schema.json`);
    }
    expect(contractIndex().length).toBeGreaterThan(0);
  });

  it.each(schemaFiles)('%s has $id, title, description and compiles with a valid first example', (file) => {
    const schema = readJson(file);
    expect(schema['$schema']).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema['$id']).toMatch(/^urn:flowmart:/);
    expect(schema['title']).toEqual(expect.any(String));
    expect(schema['description']).toEqual(expect.any(String));

    const example = firstExample(file);
    if (file === ENVELOPE_FILE) {
      expect(validateEnvelope(example)).toEqual({ ok: true });
    } else {
      const contract = contractIndex().find((entry) => entry.file === file);
      expect(contract).toBeDefined();
      if (contract) expect(validateEventData(contract.type, contract.version, example)).toEqual({ ok: true });
    }
  });

  it('the envelope example carries data valid against the schema named in dataschema', () => {
    const envelope = firstExample(ENVELOPE_FILE);
    const contract = contractIndex().find((entry) => entry.id === envelope['dataschema']);
    expect(contract?.type).toBe(envelope['type']);
    if (contract) expect(validateEventData(contract.type, contract.version, envelope['data'])).toEqual({ ok: true });
  });
});

describe('asyncapi.yaml', () => {
  it('parses with @asyncapi/parser without error diagnostics', async () => {
    const { document, diagnostics } = await parseAsyncApi();
    const errors = diagnostics
      .filter((diagnostic) => Number(diagnostic.severity) === 0)
      .map((diagnostic) => `${diagnostic.code}: ${diagnostic.message} at ${diagnostic.path.join('.')}`);
    expect(errors).toEqual([]);
    expect(document?.version()).toBe('3.0.0');
    expect(document?.info().title()).toBe('FlowMart Orders Service');
    expect(document?.servers().get('local')?.protocol()).toBe('nats');
  });

  it('references every schema file in contracts/ and nothing else', () => {
    const yaml = readFileSync(ASYNCAPI_FILE, 'utf8');
    const referenced = [...yaml.matchAll(/\$ref:\s*['"]?\.\/([^'"#\s]+)/g)].map((match) => match[1]);
    expect([...new Set(referenced)].sort()).toEqual(schemaFiles);
  });

  it('has one message per contract, on its context channel, sent or received as its direction says', async () => {
    const { document } = await parseAsyncApi();
    if (!document) throw new Error('asyncapi.yaml did not parse');

    const payloadIds = document
      .messages()
      .all()
      .map((message) => message.payload()?.$id());
    expect(payloadIds.sort()).toEqual(
      contractIndex()
        .map((contract) => contract.id)
        .sort()
    );

    for (const contract of contractIndex()) {
      const operations = document
        .operations()
        .all()
        .filter((operation) =>
          operation
            .messages()
            .all()
            .some((message) => message.payload()?.$id() === contract.id)
        );
      const actions = operations.map((operation) => operation.action()).sort();
      const expected = { outbound: ['send'], inbound: ['receive'], both: ['receive', 'send'] }[contract.direction];
      expect(actions, contract.type).toEqual(expected);
      for (const operation of operations) {
        expect(operation.channels().all()[0]?.address(), contract.type).toBe(`${contract.context}.{env}.events`);
      }
    }
  });
});

describe('validation', () => {
  it('rejects a payload missing a required field, naming the field', () => {
    const order = exampleOf('OrderCreated');
    delete order['currency'];
    expect(validateEventData('OrderCreated', '1.0.0', order)).toEqual({
      ok: false,
      errors: ["/ must have required property 'currency'"],
    });
  });

  it('rejects an extra field where additionalProperties is false, naming the field', () => {
    const confirmed = exampleOf('OrderConfirmed');
    confirmed['couponCode'] = 'SPRING10';
    const items = confirmed['orderItems'] as Record<string, unknown>[];
    items[0] = { ...items[0], sku: 'SHOE-TRAIL-42' };
    expect(validateEventData('OrderConfirmed', '0.0.1', confirmed)).toEqual({
      ok: false,
      errors: [
        '/ must NOT have additional properties: "couponCode"',
        '/orderItems/0 must NOT have additional properties: "sku"',
      ],
    });
  });

  it('reports nested, format, enum and const violations with their path', () => {
    const order = exampleOf('OrderCreated');
    order['status'] = 'CREATED';
    order['customerId'] = 'not-a-uuid';
    (order['items'] as Record<string, unknown>[])[0] = {
      sku: 'X',
      productId: 'not-a-uuid',
      quantity: 0,
      unitPrice: 1.5,
    };
    const result = validateEventData('OrderCreated', '1.0.0', order);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toEqual(
      expect.arrayContaining([
        '/customerId must match format "uuid"',
        '/status must be equal to constant: "created"',
        '/items/0/productId must match format "uuid"',
        '/items/0/quantity must be >= 1',
        '/items/0/unitPrice must be integer',
      ])
    );

    const failed = exampleOf('PaymentFailed');
    failed['failureReason'] = 'declined';
    expect(validateEventData('PaymentFailed', '0.0.1', failed)).toEqual({
      ok: false,
      errors: [
        expect.stringMatching(/^\/failureReason must be equal to one of the allowed values: "insufficient_funds", /),
      ],
    });
  });

  it('accepts extra fields from external producers where the contract allows them', () => {
    const cancelled = { ...exampleOf('UserSubscriptionCancelled'), billingCycle: 'monthly' };
    expect(validateEventData('UserSubscriptionCancelled', '0.0.1', cancelled)).toEqual({ ok: true });
  });

  it('rejects a bad envelope: missing extension, unknown attribute, bad traceparent', () => {
    const envelope = firstExample(ENVELOPE_FILE);
    delete envelope['correlationid'];
    envelope['partitionkey'] = 'x';
    envelope['traceparent'] = '00-abc-01';
    const result = validateEnvelope(envelope);
    const errors = result.ok ? [] : result.errors;
    expect(errors).toContain("/ must have required property 'correlationid'");
    expect(errors).toContain('/ must NOT have additional properties: "partitionkey"');
    expect(errors.some((error) => /^\/traceparent must match pattern/.test(error))).toBe(true);
    expect(validateEnvelope('not an object')).toMatchObject({ ok: false, errors: ['/ must be object'] });
  });

  it('throws ContractNotFoundError for an unknown message or version', () => {
    expect(() => validateEventData('OrderShipped', '1.0.0', {})).toThrow(ContractNotFoundError);
    try {
      validateEventData('OrderCreated', '9.9.9', {});
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ContractNotFoundError);
      expect(error).toMatchObject({ code: 'CONTRACT_NOT_FOUND', name: 'ContractNotFoundError' });
    }
  });

  it('builds dataschema URNs', () => {
    expect(dataSchemaId('orders', 'OrderCreated', '1.0.0')).toBe('urn:flowmart:orders:OrderCreated:1.0.0');
    expect(entryFor('InventoryAdjusted')).toMatchObject({ context: 'inventory', version: '1.0.1', direction: 'both' });
  });
});
