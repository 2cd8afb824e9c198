import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './database.js';

export const DATA_DIR = join(ROOT, '.data');

/** A secret generated once and kept in the git-ignored .data dir, so every local script agrees on it. */
function keptSecret(name: string, generate: () => string): string {
  const file = join(DATA_DIR, name);
  if (!existsSync(file)) {
    mkdirSync(DATA_DIR, { recursive: true });
    writeFileSync(file, generate(), { mode: 0o600 });
  }
  return readFileSync(file, 'utf8').trim();
}

/** Local runs need a JWT secret to mint dev tokens with: JWT_SECRET, else one kept in .data. */
export function devJwtSecret(): string {
  return process.env.JWT_SECRET || keptSecret('dev-jwt-secret', () => randomBytes(32).toString('hex'));
}

/**
 * Local runs encrypt workflow payloads like production: PAYLOAD_ENCRYPTION_KEYS, else one key kept in .data
 * (the dev server's history in .data/temporal.db stays readable across restarts).
 */
export function devPayloadKeys(): string {
  return (
    process.env.PAYLOAD_ENCRYPTION_KEYS ||
    keptSecret('dev-payload-keys', () => `dev-1:${randomBytes(32).toString('base64')}`)
  );
}
