import { readdirSync, readFileSync } from 'node:fs';
import type pg from 'pg';
import { OperationError } from '../core/index.js';
import { SCHEMA_DIR } from '../store/index.js';

/** The fleet's PostgreSQL migrations: schema/fleet/NNN_name.sql, versions 1, 2, 3… */
export const FLEET_SCHEMA_DIR = `${SCHEMA_DIR}fleet/`;

export interface FleetMigrationReport {
  readonly from: number;
  readonly to: number;
  readonly applied: readonly string[];
}

function loadFleetMigrations(): { version: number; name: string; sql: string }[] {
  const files = readdirSync(FLEET_SCHEMA_DIR).filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f)).sort();
  return files.map((name, index) => {
    if (Number(name.slice(0, 3)) !== index + 1) throw new OperationError(`schema ${FLEET_SCHEMA_DIR}${name}: expected version ${index + 1}`);
    return { version: index + 1, name, sql: readFileSync(FLEET_SCHEMA_DIR + name, 'utf8') };
  });
}

/** A quoted identifier (the schema name is checked by the config; quoting keeps it one name whatever it is). */
export const quoted = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/**
 * Brings the fleet's tables in `schema` to the newest version, in one transaction, under an
 * advisory lock so that several daemons starting at once apply each migration once. A schema
 * that exists is used as it is: its objects are made as its owner when the connected role is a
 * member of it (the documented setup: one login role per host, all members of the owner), so
 * that every host's role may use them. A newer version than this f2b-store knows is refused.
 */
export async function migrateFleet(client: pg.Client, schema: string): Promise<FleetMigrationReport> {
  const migrations = loadFleetMigrations();
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`f2b-store migrate ${schema}`]);
    const owner = await client.query<{ owner: string; member: boolean }>(
      `SELECT pg_get_userbyid(nspowner) AS owner, pg_has_role(nspowner, 'MEMBER') AS member FROM pg_namespace WHERE nspname = $1`, [schema]);
    const found = owner.rows[0];
    if (found === undefined) await client.query(`CREATE SCHEMA ${quoted(schema)}`);
    else if (found.member) await client.query(`SET LOCAL ROLE ${quoted(found.owner)}`);
    await client.query(`SET LOCAL search_path TO ${quoted(schema)}`);
    await client.query('CREATE TABLE IF NOT EXISTS fleet_schema (version integer NOT NULL)');
    const stored = await client.query<{ version: number }>('SELECT version FROM fleet_schema');
    const from = stored.rows[0]?.version ?? 0;
    if (from > migrations.length) {
      throw new OperationError(`the fleet's schema ${schema} has version ${from}, newer than this f2b-store knows (${migrations.length}): upgrade f2b-store`);
    }
    const applied: string[] = [];
    for (const migration of migrations.slice(from)) {
      await client.query(migration.sql);
      applied.push(migration.name);
    }
    if (from === 0) await client.query('INSERT INTO fleet_schema (version) VALUES ($1)', [migrations.length]);
    else if (applied.length > 0) await client.query('UPDATE fleet_schema SET version = $1', [migrations.length]);
    await client.query('COMMIT');
    return { from, to: migrations.length, applied };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
