/**
 * JSON Schema contracts of every message on the bus (files under `contracts/`), with validators for
 * event payloads and for the CloudEvents envelope that carries them.
 *
 * Layout: `contracts/<context>/<MessageName>/<version>.schema.json`, each with
 * `$id` = `urn:flowmart:<context>:<MessageName>:<version>` and an `x-flowmart-direction` annotation;
 * `contracts/envelope/cloudevent.schema.json` is the envelope. `contracts/asyncapi.yaml` lists them all.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type AnySchemaObject, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { EventContext } from '../config/config.js';
import { EVENT_CONTEXTS } from '../config/config.js';

export const CONTRACTS_DIR = fileURLToPath(new URL('../../contracts', import.meta.url));

/** Every bounded context with a channel has a contracts folder of the same name. */
export const CONTRACT_CONTEXTS = EVENT_CONTEXTS;
export type ContractContext = EventContext;

export const CONTRACT_DIRECTIONS = ['outbound', 'inbound', 'both'] as const;
export type ContractDirection = (typeof CONTRACT_DIRECTIONS)[number];

export interface ContractEntry {
  readonly context: ContractContext;
  /** Message name, also the CloudEvents `type`. */
  readonly type: string;
  readonly version: string;
  readonly direction: ContractDirection;
  /** Schema `$id`, also the CloudEvents `dataschema`. */
  readonly id: string;
  /** Path relative to `contracts/`, with `/` separators. */
  readonly file: string;
}

export interface LoadedContract extends ContractEntry {
  readonly schema: AnySchemaObject;
}

export type ValidationResult = { ok: true } | { ok: false; errors: string[] };

export class ContractNotFoundError extends Error {
  readonly code = 'CONTRACT_NOT_FOUND';

  constructor(
    readonly type: string,
    readonly version: string
  ) {
    super(`No contract for message ${type} version ${version} in ${CONTRACTS_DIR}`);
    this.name = 'ContractNotFoundError';
  }
}

const DIRECTION_KEYWORD = 'x-flowmart-direction';
const ENVELOPE_FILE = 'envelope/cloudevent.schema.json';

export function dataSchemaId(context: ContractContext, type: string, version: string): string {
  return `urn:flowmart:${context}:${type}:${version}`;
}

interface Registry {
  readonly contracts: readonly LoadedContract[];
  readonly byTypeAndVersion: ReadonlyMap<string, LoadedContract>;
  readonly envelope: AnySchemaObject;
}

let registry: Registry | undefined;

/**
 * Reads every contract once (synchronously, so validation can stay synchronous) and checks that each
 * file's location, `$id` and direction agree, so a misplaced or copy-pasted schema fails at startup.
 */
export function loadContracts(): readonly LoadedContract[] {
  return getRegistry().contracts;
}

export function contractIndex(): ContractEntry[] {
  return loadContracts().map(({ context, type, version, direction, id, file }) => ({
    context,
    type,
    version,
    direction,
    id,
    file,
  }));
}

export function validateEventData(type: string, version: string, data: unknown): ValidationResult {
  const contract = getRegistry().byTypeAndVersion.get(key(type, version));
  if (!contract) throw new ContractNotFoundError(type, version);
  return run(validatorFor(contract.id, contract.schema), data);
}

export function validateEnvelope(envelope: unknown): ValidationResult {
  const schema = getRegistry().envelope;
  return run(validatorFor(schema.$id ?? ENVELOPE_FILE, schema), envelope);
}

function getRegistry(): Registry {
  registry ??= readRegistry();
  return registry;
}

function readRegistry(): Registry {
  const contracts: LoadedContract[] = [];
  const byTypeAndVersion = new Map<string, LoadedContract>();
  for (const context of CONTRACT_CONTEXTS) {
    for (const type of listDir(context, 'directories')) {
      for (const fileName of listDir(`${context}/${type}`, 'files')) {
        const version = fileName.match(/^(\d+\.\d+\.\d+)\.schema\.json$/)?.[1];
        if (version === undefined) continue;
        const file = `${context}/${type}/${fileName}`;
        const schema = readSchema(file);
        const id = dataSchemaId(context, type, version);
        if (schema.$id !== id) throw new Error(`${file}: $id must be ${id}, found ${String(schema.$id)}`);
        const direction: unknown = schema[DIRECTION_KEYWORD];
        if (!isDirection(direction)) {
          throw new Error(`${file}: ${DIRECTION_KEYWORD} must be one of ${CONTRACT_DIRECTIONS.join(', ')}`);
        }
        // Lookups go by type and version, which is all a CloudEvent carries, so names must be unique across contexts.
        if (byTypeAndVersion.has(key(type, version))) throw new Error(`${file}: ${type} ${version} is defined twice`);
        const contract: LoadedContract = { context, type, version, direction, id, file, schema };
        contracts.push(contract);
        byTypeAndVersion.set(key(type, version), contract);
      }
    }
  }
  return { contracts, byTypeAndVersion, envelope: readSchema(ENVELOPE_FILE) };
}

function listDir(relativeDir: string, kind: 'directories' | 'files'): string[] {
  try {
    return readdirSync(join(CONTRACTS_DIR, relativeDir), { withFileTypes: true })
      .filter((entry) => (kind === 'directories' ? entry.isDirectory() : entry.isFile()))
      .map((entry) => entry.name)
      .sort();
  } catch (error) {
    // A context with no contracts yet is fine; any other read failure is a broken checkout.
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return [];
    throw error;
  }
}

function readSchema(file: string): AnySchemaObject {
  const parsed: unknown = JSON.parse(readFileSync(join(CONTRACTS_DIR, file), 'utf8'));
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${file}: not a JSON Schema object`);
  }
  return parsed;
}

function isDirection(value: unknown): value is ContractDirection {
  return CONTRACT_DIRECTIONS.some((direction) => direction === value);
}

function key(type: string, version: string): string {
  return `${type}@${version}`;
}

let ajv: Ajv2020 | undefined;
const validators = new Map<string, ValidateFunction>();

function validatorFor(id: string, schema: AnySchemaObject): ValidateFunction {
  let validate = validators.get(id);
  if (!validate) {
    validate = getAjv().compile(schema);
    validators.set(id, validate);
  }
  return validate;
}

function getAjv(): Ajv2020 {
  if (!ajv) {
    // allErrors so a rejected event lists every problem at once; payloads are bounded by the NATS max payload size.
    ajv = new Ajv2020({ allErrors: true, strict: true });
    // ajv-formats is CommonJS: under NodeNext the default import is module.exports, which carries the plugin as .default.
    addFormats.default(ajv);
    ajv.addKeyword(DIRECTION_KEYWORD);
  }
  return ajv;
}

function run(validate: ValidateFunction, value: unknown): ValidationResult {
  if (validate(value)) return { ok: true };
  return { ok: false, errors: (validate.errors ?? []).map(formatError) };
}

function formatError(error: ErrorObject): string {
  return `${error.instancePath || '/'} ${error.message ?? 'is invalid'}${detailOf(error)}`;
}

// Ajv's messages leave out the offending property and the allowed values, which are what a reader needs.
function detailOf({ keyword, params }: ErrorObject): string {
  const p: Record<string, unknown> = params;
  switch (keyword) {
    case 'additionalProperties':
      return `: ${JSON.stringify(p['additionalProperty'])}`;
    case 'enum':
      return `: ${(p['allowedValues'] as unknown[]).map((value) => JSON.stringify(value)).join(', ')}`;
    case 'const':
      return `: ${JSON.stringify(p['allowedValue'])}`;
    default:
      return '';
  }
}
