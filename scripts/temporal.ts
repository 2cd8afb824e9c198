import { spawnSync } from 'node:child_process';
import { findTemporalCli } from './lib/temporal-cli.js';

/**
 * `npm run temporal -- <args>`: the Temporal CLI the project found or built (it need not be on PATH), pointed at
 * `npm run dev`'s server. With TOKEN set (`npm run dev` prints `export TOKEN=...`), `workflow` commands also go
 * through the API's codec server with that credential, so an operator reads decrypted inputs and results; without
 * it, payloads show as the ciphertext the server stores.
 *
 * Scripts read the environment: TEMPORAL_ADDRESS (default 127.0.0.1:7233) and TEMPORAL_NAMESPACE as the CLI does,
 * PORT for the API (default 3000), TOKEN for the codec server, TEMPORAL_CODEC_ENDPOINT to point elsewhere.
 */
const args = process.argv.slice(2);
const env = { ...process.env, TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS || '127.0.0.1:7233' };
const codecEndpoint = process.env.TEMPORAL_CODEC_ENDPOINT || `http://localhost:${process.env.PORT || 3000}/codec`;
const codec =
  args[0] === 'workflow' && process.env.TOKEN && !args.includes('--codec-endpoint')
    ? ['--codec-endpoint', codecEndpoint, '--codec-auth', `Bearer ${process.env.TOKEN}`]
    : [];
const run = spawnSync(findTemporalCli(), [...args, ...codec], { env, stdio: 'inherit' });
process.exit(run.status ?? 1);
