import { randomUUID } from 'node:crypto';
import type { temporal } from '@temporalio/proto';
import proto from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENCRYPTED_ENCODING } from '../../src/temporal/payload-codec.js';
import { orderWorkflowId } from '../../src/workflows/messages.js';
import { untilStage } from '../saga/support.js';
import type { TestSystem } from '../support/system.js';
import { createProduct, http, orderBody, SERVICE_API_KEY, startSystem } from '../support/system.js';

const WEB_UI = 'http://localhost:8233';

describe('workflow payloads are encrypted; operators decode them through the codec server', () => {
  let system: TestSystem;
  let orderId: string;
  // Values that appear nowhere else, so finding them in the history can only mean a clear-text payload.
  const secrets = {
    paymentToken: 'tok_visa',
    street: `${Math.floor(Math.random() * 9000) + 1000} Evergreen Terrace`,
    postalCode: `Z${randomUUID().slice(0, 6)}`,
  };
  let raw: temporal.api.history.v1.History;

  beforeAll(async () => {
    system = await startSystem();
    const product = await createProduct(system, 5);
    const customerId = randomUUID();
    const body = orderBody(customerId, [{ productId: product.id, quantity: 1 }], secrets.paymentToken);
    body.shippingAddress = { ...body.shippingAddress, street: secrets.street, postalCode: secrets.postalCode };
    const placed = await http(system, 'POST', '/v1/orders', { token: await system.tokens.customer(customerId), body });
    expect(placed.status, JSON.stringify(placed.body)).toBe(201);
    orderId = placed.body.orderId as string;
    // Fulfilling: the card was authorized, so the token also went through activity inputs.
    await untilStage(system, orderId, 'FULFILLING');
    raw = await rawHistory();
  });
  afterAll(async () => {
    await system?.stop();
  });

  /** The history exactly as the server stores and serves it, with no codec in between. */
  async function rawHistory(): Promise<temporal.api.history.v1.History> {
    const events: temporal.api.history.v1.IHistoryEvent[] = [];
    let nextPageToken: Uint8Array | undefined;
    do {
      const page = await system.resources.temporal.workflowService.getWorkflowExecutionHistory({
        namespace: system.config.TEMPORAL_NAMESPACE,
        execution: { workflowId: orderWorkflowId(orderId) },
        ...(nextPageToken ? { nextPageToken } : {}),
      });
      events.push(...(page.history?.events ?? []));
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (nextPageToken);
    return proto.temporal.api.history.v1.History.create({ events });
  }

  const startInput = () => raw.events[0]!.workflowExecutionStartedEventAttributes!.input!.payloads!;
  const asJson = (payload: temporal.api.common.v1.IPayload) => ({
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])
    ),
    data: Buffer.from(payload.data ?? []).toString('base64'),
  });
  const decode = (headers: Record<string, string>) =>
    http<{ payloads: { metadata: Record<string, string>; data: string }[] }>(system, 'POST', '/codec/decode', {
      headers: { 'x-namespace': system.config.TEMPORAL_NAMESPACE, ...headers },
      body: { payloads: startInput().map(asJson) },
    });

  it('stores no payment token, street or postal code in clear in the history', () => {
    const bytes = Buffer.from(proto.temporal.api.history.v1.History.encode(raw).finish());
    expect(bytes.includes(ENCRYPTED_ENCODING)).toBe(true);
    for (const [what, value] of Object.entries(secrets)) expect(bytes.includes(value), what).toBe(false);
  });

  it('decodes the payloads for an operator: the order as the workflow received it', async () => {
    const decoded = await decode({ authorization: `Bearer ${system.tokens.operator}` });
    expect(decoded.status).toBe(200);
    const [input] = decoded.body.payloads;
    expect(Buffer.from(input!.metadata.encoding!, 'base64').toString()).toBe('json/plain');
    const order = JSON.parse(Buffer.from(input!.data, 'base64').toString()) as Record<string, unknown>;
    expect(order).toMatchObject({
      payment: { token: secrets.paymentToken },
      shippingAddress: { street: secrets.street, postalCode: secrets.postalCode },
    });
  });

  it('encodes for an operator what it decodes back', async () => {
    const operator = { authorization: `Bearer ${system.tokens.operator}` };
    const clear = { metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: 'eyJhIjoxfQ==' };
    const encoded = await http<{ payloads: { metadata: Record<string, string>; data: string }[] }>(
      system,
      'POST',
      '/codec/encode',
      { headers: operator, body: { payloads: [clear] } }
    );
    expect(encoded.status).toBe(200);
    expect(Buffer.from(encoded.body.payloads[0]!.metadata.encoding!, 'base64').toString()).toBe(ENCRYPTED_ENCODING);
    const decoded = await http(system, 'POST', '/codec/decode', { headers: operator, body: encoded.body });
    expect(decoded).toMatchObject({ status: 200, body: { payloads: [clear] } });
  });

  it.each<[string, () => Promise<Record<string, string>>, number]>([
    ['no credentials', () => Promise.resolve({}), 401],
    ['a customer', async () => ({ authorization: `Bearer ${await system.tokens.customer(randomUUID())}` }), 403],
    ['a service', () => Promise.resolve({ 'x-api-key': SERVICE_API_KEY }), 403],
  ])('refuses to decode for %s', async (_who, headers, status) => {
    const refused = await decode(await headers());
    expect(refused.status).toBe(status);
    expect(JSON.stringify(refused.body)).not.toContain(secrets.street);
  });

  it('answers the Web UI origin’s CORS preflight, and no other origin', async () => {
    const preflight = (origin: string) =>
      fetch(`${system.baseUrl}/codec/decode`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type,x-namespace',
        },
      });
    const allowed = await preflight(WEB_UI);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(WEB_UI);
    expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
    expect(allowed.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('x-namespace');
    const other = await preflight('https://evil.test');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});
