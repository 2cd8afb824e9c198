import { z } from 'zod';

export interface PayloadKey {
  id: string;
  key: Buffer;
}

const KEY_ID = /^[\w.-]{1,64}$/;

/**
 * `id:base64key,...` (AES-256: each key 32 bytes, e.g. `openssl rand -base64 32`). The order is the rotation: the
 * first key is the newest and encrypts, the others only decrypt what they encrypted before.
 */
export const payloadKeys = z.string().transform((text, ctx): PayloadKey[] => {
  const keys: PayloadKey[] = [];
  for (const entry of text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const separator = entry.indexOf(':');
    const id = entry.slice(0, separator);
    const key = Buffer.from(entry.slice(separator + 1), 'base64');
    if (separator < 0 || !KEY_ID.test(id)) {
      ctx.addIssue({ code: 'custom', message: 'entries must be id:base64key, the id 1-64 of [A-Za-z0-9_.-]' });
    } else if (key.length !== 32) {
      ctx.addIssue({ code: 'custom', message: `key ${id} must be 32 bytes, base64-encoded (openssl rand -base64 32)` });
    } else if (keys.some((known) => known.id === id)) {
      ctx.addIssue({ code: 'custom', message: `key id ${id} appears twice` });
    } else {
      keys.push({ id, key });
    }
  }
  return keys;
});
