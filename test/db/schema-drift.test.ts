import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { get_dmmf } from '@prisma/prisma-schema-wasm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { ROOT } from '../../scripts/lib/database.js';

interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: string;
  type: string;
  isRequired: boolean;
  nativeType?: [string, string[]] | null;
}
interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
  primaryKey: { fields: string[] } | null;
}

/** The Postgres type a Prisma field becomes, following Prisma's default mapping and the field's @db attribute. */
function sqlType(field: DmmfField): string {
  const native = field.nativeType?.[0];
  if (native === 'Uuid') return 'uuid';
  if (native === 'Char') return 'character';
  if (native === 'Timestamptz') return 'timestamp with time zone';
  return (
    {
      String: 'text',
      Int: 'integer',
      BigInt: 'bigint',
      Boolean: 'boolean',
      DateTime: 'timestamp without time zone',
      Json: 'jsonb',
    }[field.type] ?? field.type
  );
}

// The Prisma schema is the model the client is generated from; the dbmate SQL migrations are what really runs.
// Prisma's own diff needs its schema engine, so the two are compared here: tables, columns, types, nullability, keys.
describe('database schema - prisma/schema.prisma agrees with the SQL migrations', () => {
  const schema = readFileSync(join(ROOT, 'prisma', 'schema.prisma'), 'utf8');
  const models = (
    JSON.parse(get_dmmf(JSON.stringify({ prismaSchema: [['schema.prisma', schema]] }))) as {
      datamodel: { models: DmmfModel[] };
    }
  ).datamodel.models;
  const client = new pg.Client({ connectionString: inject('databaseUrl') });
  let columns: { table_name: string; column_name: string; data_type: string; is_nullable: string }[];
  let primaryKeys: Map<string, string[]>;

  beforeAll(async () => {
    await client.connect();
    columns = (
      await client.query<{ table_name: string; column_name: string; data_type: string; is_nullable: string }>(
        `SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name <> 'schema_migrations' ORDER BY table_name, ordinal_position`
      )
    ).rows;
    const keys = await client.query<{ table_name: string; column_name: string }>(
      `SELECT tc.table_name, kcu.column_name FROM information_schema.table_constraints tc
       JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema
       WHERE tc.table_schema = 'public' AND tc.constraint_type = 'PRIMARY KEY' ORDER BY tc.table_name, kcu.ordinal_position`
    );
    primaryKeys = new Map();
    for (const row of keys.rows)
      primaryKeys.set(row.table_name, [...(primaryKeys.get(row.table_name) ?? []), row.column_name]);
  });
  afterAll(async () => {
    await client.end();
  });

  it('has the same tables', () => {
    const tables = new Set(columns.map((c) => c.table_name));
    expect([...tables].sort()).toEqual(models.map((m) => m.dbName ?? m.name).sort());
  });

  it('has the same columns with the same types and nullability in every table', () => {
    for (const model of models) {
      const table = model.dbName ?? model.name;
      const expected = model.fields
        .filter((f) => f.kind === 'scalar')
        .map((f) => ({ column: f.dbName ?? f.name, type: sqlType(f), nullable: !f.isRequired }))
        .sort((a, b) => a.column.localeCompare(b.column));
      const actual = columns
        .filter((c) => c.table_name === table)
        .map((c) => ({ column: c.column_name, type: c.data_type, nullable: c.is_nullable === 'YES' }))
        .sort((a, b) => a.column.localeCompare(b.column));
      expect({ table, columns: actual }).toEqual({ table, columns: expected });
    }
  });

  it('has the same primary keys', () => {
    for (const model of models) {
      const idField = model.fields.find((f) => (f as DmmfField & { isId?: boolean }).isId);
      const names = model.primaryKey?.fields ?? (idField ? [idField.name] : []);
      const expected = names.map((name) => {
        const field = model.fields.find((f) => f.name === name)!;
        return field.dbName ?? field.name;
      });
      expect({ table: model.dbName, key: primaryKeys.get(model.dbName ?? model.name) }).toEqual({
        table: model.dbName,
        key: expected,
      });
    }
  });
});
