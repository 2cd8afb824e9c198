import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import { METADATA_ENCODING_KEY } from '@temporalio/common';
import proto from '@temporalio/proto';
import type { Config } from '../config/config.js';
import { ConfigError } from '../config/config.js';
import type { PayloadKey } from '../config/payload-keys.js';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';

// A CommonJS module: Node's ESM loader exposes only its default export (vitest would hide that).
const { temporal } = proto;

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class PayloadKeyUnknownError extends Error {
  readonly code = 'PAYLOAD_KEY_UNKNOWN';
  constructor(keyId: string) {
    super(`payload encrypted with key "${keyId}", which is not in PAYLOAD_ENCRYPTION_KEYS`);
    this.name = 'PayloadKeyUnknownError';
  }
}

export class PayloadDecryptionError extends Error {
  readonly code = 'PAYLOAD_DECRYPTION_FAILED';
  constructor(keyId: string) {
    super(`payload encrypted with key "${keyId}" does not decrypt: it was altered, or the key is wrong`);
    this.name = 'PayloadDecryptionError';
  }
}

const utf8 = (bytes: Uint8Array | null | undefined) => (bytes ? Buffer.from(bytes).toString('utf8') : undefined);

/**
 * AES-256-GCM over the whole serialized payload (metadata included, so even the encoding and type hints are
 * hidden). The key id travels in clear metadata and is bound as associated data, so it cannot be swapped.
 * Payloads without the encrypted encoding pass through on decode: histories written before encryption was turned on
 * keep replaying, and their new payloads are encrypted.
 */
export class EncryptionCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;
  private readonly current: PayloadKey;

  constructor(keys: PayloadKey[]) {
    if (keys.length === 0) throw new Error('EncryptionCodec needs at least one key');
    this.current = keys[0]!;
    this.byId = new Map(keys.map(({ id, key }) => [id, key]));
  }

  // Synchronous work behind the codec's async interface: a refused payload rejects the promise, never throws.
  encode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.resolve().then(() => payloads.map((payload) => this.encrypt(payload)));
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.resolve().then(() => payloads.map((payload) => this.decrypt(payload)));
  }

  private encrypt(payload: Payload): Payload {
    const { id, key } = this.current;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, key, iv).setAAD(Buffer.from(id));
    const clear = temporal.api.common.v1.Payload.encode(payload).finish();
    const sealed = Buffer.concat([iv, cipher.update(clear), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: {
        [METADATA_ENCODING_KEY]: Buffer.from(ENCRYPTED_ENCODING),
        [KEY_ID_METADATA]: Buffer.from(id),
      },
      data: sealed,
    };
  }

  private decrypt(payload: Payload): Payload {
    if (utf8(payload.metadata?.[METADATA_ENCODING_KEY]) !== ENCRYPTED_ENCODING) return payload;
    const id = utf8(payload.metadata?.[KEY_ID_METADATA]) ?? '';
    const key = this.byId.get(id);
    if (!key) throw new PayloadKeyUnknownError(id);
    const sealed = Buffer.from(payload.data ?? new Uint8Array());
    try {
      const decipher = createDecipheriv(ALGORITHM, key, sealed.subarray(0, IV_BYTES)).setAAD(Buffer.from(id));
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      const clear = Buffer.concat([
        decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)),
        decipher.final(),
      ]);
      return temporal.api.common.v1.Payload.decode(clear);
    } catch {
      throw new PayloadDecryptionError(id);
    }
  }
}

/** The codec of the configured keys, or none with PAYLOAD_ENCRYPTION=off; a missing key stops start-up. */
export function payloadCodec(
  config: Pick<Config, 'PAYLOAD_ENCRYPTION' | 'PAYLOAD_ENCRYPTION_KEYS'>
): EncryptionCodec | undefined {
  if (config.PAYLOAD_ENCRYPTION_KEYS.length > 0) return new EncryptionCodec(config.PAYLOAD_ENCRYPTION_KEYS);
  if (config.PAYLOAD_ENCRYPTION === 'off') return undefined;
  throw new ConfigError([
    'PAYLOAD_ENCRYPTION_KEYS is required: workflow histories would hold payment tokens and addresses in clear ' +
      '(generate one with `echo k1:$(openssl rand -base64 32)`; PAYLOAD_ENCRYPTION=off only for local demos)',
  ]);
}

/** Client and worker share this converter, so each reads what the other wrote. */
export function dataConverter(codec: PayloadCodec | undefined): DataConverter {
  return codec ? { payloadCodecs: [codec] } : {};
}
