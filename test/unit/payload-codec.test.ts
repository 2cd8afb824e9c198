import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import {
  EncryptionCodec,
  KEY_ID_METADATA,
  PayloadDecryptionError,
  PayloadKeyUnknownError,
  payloadCodec,
} from '../../src/temporal/payload-codec.js';

const key = (id: string) => ({ id, key: randomBytes(32) });
const order = { payment: { token: 'tok_visa' }, shippingAddress: { street: '1 Main St', postalCode: '12345' } };
const clear = () => defaultPayloadConverter.toPayload(order);
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('latin1');

describe('payload encryption codec (AES-256-GCM)', () => {
  it('round-trips a payload and hides its data and metadata', async () => {
    const codec = new EncryptionCodec([key('k1')]);
    const [sealed] = await codec.encode([clear()]);
    expect(text(sealed!.data)).not.toMatch(/tok_visa|Main St|12345|json\/plain/);
    expect(text(sealed!.metadata?.[KEY_ID_METADATA])).toBe('k1');
    const [opened] = await codec.decode([sealed!]);
    expect(defaultPayloadConverter.fromPayload(opened!)).toEqual(order);
  });

  it('encrypts with the newest key and still decrypts with the older ones (rotation)', async () => {
    const old = key('2026-01');
    const before = await new EncryptionCodec([old]).encode([clear()]);
    const rotated = new EncryptionCodec([key('2026-12'), old]);
    const after = await rotated.encode([clear()]);
    expect(text(after[0]!.metadata?.[KEY_ID_METADATA])).toBe('2026-12');
    for (const sealed of [...before, ...after]) {
      const [opened] = await rotated.decode([sealed]);
      expect(defaultPayloadConverter.fromPayload(opened!)).toEqual(order);
    }
  });

  it('passes unencrypted payloads through on decode (histories written before encryption)', async () => {
    const payload = clear();
    expect(await new EncryptionCodec([key('k1')]).decode([payload])).toEqual([payload]);
  });

  it('refuses a payload of an unknown key, an altered one, and one whose key id was swapped', async () => {
    const [k1, k2] = [key('k1'), key('k2')];
    const codec = new EncryptionCodec([k1, k2]);
    const [sealed] = await new EncryptionCodec([k1]).encode([clear()]);
    await expect(new EncryptionCodec([k2]).decode([sealed!])).rejects.toBeInstanceOf(PayloadKeyUnknownError);
    const altered = Buffer.from(sealed!.data!);
    altered[20]! ^= 1;
    await expect(codec.decode([{ ...sealed!, data: altered }])).rejects.toBeInstanceOf(PayloadDecryptionError);
    const swapped = { ...sealed!, metadata: { ...sealed!.metadata, [KEY_ID_METADATA]: Buffer.from('k2') } };
    await expect(codec.decode([swapped])).rejects.toBeInstanceOf(PayloadDecryptionError);
  });

  it('reads PAYLOAD_ENCRYPTION_KEYS newest first and reports malformed keys by name', () => {
    const [a, b] = [randomBytes(32).toString('base64'), randomBytes(32).toString('base64')];
    const config = loadConfig({ AUTH: 'off', PAYLOAD_ENCRYPTION_KEYS: `new:${a}, old:${b}` });
    expect(config.PAYLOAD_ENCRYPTION_KEYS.map(({ id }) => id)).toEqual(['new', 'old']);
    for (const bad of ['nocolon', `short:${randomBytes(16).toString('base64')}`, `a:${a},a:${b}`]) {
      expect(() => loadConfig({ AUTH: 'off', PAYLOAD_ENCRYPTION_KEYS: bad })).toThrow(/PAYLOAD_ENCRYPTION_KEYS/);
    }
  });

  it('requires a key unless encryption is explicitly off', () => {
    expect(() => payloadCodec(loadConfig({ AUTH: 'off' }))).toThrow(ConfigError);
    expect(payloadCodec(loadConfig({ AUTH: 'off', PAYLOAD_ENCRYPTION: 'off' }))).toBeUndefined();
  });
});
