import type { Payload, PayloadCodec } from '@temporalio/common';
import cors from 'cors';
import type { RequestHandler } from 'express';
import express from 'express';
import { z } from 'zod';
import { PayloadDecryptionError, PayloadKeyUnknownError } from '../temporal/payload-codec.js';
import { requireRole } from './auth.js';
import { ApiError, zodDetails } from './errors.js';

/** Base64 as protobuf's JSON mapping writes bytes (standard or URL-safe alphabet, padding optional). */
const Base64 = z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'must be base64');
const JsonPayload = z.object({ metadata: z.record(z.string(), Base64).optional(), data: Base64.optional() });
// Protobuf's JSON mapping omits an empty repeated field: the CLI sends `{}` for a query without arguments.
const JsonPayloads = z.object({ payloads: z.array(JsonPayload).default([]) });
type JsonPayload = z.infer<typeof JsonPayload>;

const fromJson = ({ metadata, data }: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(data ?? '', 'base64'),
});

const toJson = ({ metadata, data }: Payload): JsonPayload => ({
  metadata: Object.fromEntries(
    Object.entries(metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')])
  ),
  data: Buffer.from(data ?? []).toString('base64'),
});

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** Origins allowed by CORS: the Temporal Web UI's. */
  origins: string[];
  authenticate: RequestHandler;
}

/**
 * The Temporal codec server protocol (`POST <endpoint>/decode` and `/encode`, JSON `{payloads: [...]}`), as the Web UI
 * and `temporal --codec-endpoint` call it: operators see clear payloads, everyone else is refused and sees only what
 * the server stores, ciphertext. The Web UI sends the signed-in user's access token when "Pass the user access
 * token" is on; the CLI sends `--codec-auth`. Temporal's protocol rather than this API's, so it is documented in the
 * README, not in /openapi.json.
 */
export function codecServer({ codec, origins, authenticate }: CodecServerOptions): express.Router {
  const router = express.Router();
  router.use(
    cors({
      origin: origins,
      methods: ['POST'],
      allowedHeaders: ['Authorization', 'Content-Type', 'X-Namespace'],
      credentials: true,
      maxAge: 600,
    })
  );
  const handle =
    (direction: 'encode' | 'decode'): RequestHandler =>
    async (req, res) => {
      const parsed = JsonPayloads.safeParse(req.body);
      if (!parsed.success) throw ApiError.validation('expected {"payloads": [...]}', zodDetails(parsed.error, 'body'));
      try {
        const payloads = await codec[direction](parsed.data.payloads.map(fromJson));
        res.json({ payloads: payloads.map(toJson) });
      } catch (error) {
        if (error instanceof PayloadKeyUnknownError || error instanceof PayloadDecryptionError)
          throw ApiError.validation(error.message);
        throw error;
      }
    };
  // History pages can be large; the Web UI sends a page's payloads in one request.
  const body = express.json({ limit: '4mb' });
  router.post('/decode', authenticate, requireRole('operator'), body, handle('decode'));
  router.post('/encode', authenticate, requireRole('operator'), body, handle('encode'));
  return router;
}
