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
 * member of it (a DBA running `fleet init`), so that the grants the owner gives apply to them. A
 * role that is not a member (a host's, the documented setup under row-level security) may only
 * find the tables up to date. A newer version than this f2b-store knows is refused.
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
    const versioned = await client.query<{ found: boolean }>('SELECT to_regclass($1) IS NOT NULL AS found', [`${quoted(schema)}.fleet_schema`]);
    const stored = versioned.rows[0]?.found ? await client.query<{ version: number }>('SELECT version FROM fleet_schema') : undefined;
    const from = stored?.rows[0]?.version ?? 0;
    if (from > migrations.length) {
      throw new OperationError(`the fleet's schema ${schema} has version ${from}, newer than this f2b-store knows (${migrations.length}): upgrade f2b-store`);
    }
    // A host's role that is not a member of the owner (row-level security, README Fleet) may use the tables but not make them.
    if (from < migrations.length && found !== undefined && !found.member) {
      throw new OperationError(`the fleet's schema ${schema} has version ${from}, this f2b-store needs ${migrations.length}, and this role may not `
        + `change it (the schema is ${found.owner}'s): run \`f2b-store fleet init\` as ${found.owner} or a superuser (see README, Fleet)`);
    }
    if (stored === undefined) await client.query('CREATE TABLE fleet_schema (version integer NOT NULL)');
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
