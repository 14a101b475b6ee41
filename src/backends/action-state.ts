import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { OperationError, messageOf, type Family } from '../core/index.js';
import { writeFileAtomic } from './atomic-file.js';

/** A ban an action.d action was given (its actionban succeeded) and not yet taken back. */
export interface HeldBan {
  readonly address: string;
  readonly family: Family;
  readonly bannedAt: number;
  readonly expiresAt: number | null;
}

/**
 * What an action.d action has been told: there is no system to read back, so this record is
 * its actual state. `started` holds the families (`''` for an action without families) whose
 * actionstart succeeded, with the time; `boot` is the boot the record belongs to.
 */
export interface ActionState {
  boot: string;
  started: Map<string, number>;
  bans: Map<string, HeldBan>;
}

const VERSION = 1;

function emptyActionState(boot: string): ActionState {
  return { boot, started: new Map(), bans: new Map() };
}

function isHeldBan(value: unknown): value is HeldBan {
  const v = value as Partial<HeldBan> | null;
  return typeof v === 'object' && v !== null && typeof v.address === 'string' && (v.family === 4 || v.family === 6)
    && typeof v.bannedAt === 'number' && (v.expiresAt === null || typeof v.expiresAt === 'number');
}

function parse(text: string): ActionState | undefined {
  const data = JSON.parse(text) as { version?: unknown; boot?: unknown; started?: unknown; bans?: unknown };
  if (data.version !== VERSION || typeof data.boot !== 'string' || typeof data.started !== 'object' || data.started === null) return undefined;
  const started = Object.entries(data.started as Record<string, unknown>);
  if (!Array.isArray(data.bans) || !data.bans.every(isHeldBan) || !started.every(([, at]) => typeof at === 'number')) return undefined;
  return {
    boot: data.boot,
    started: new Map(started as [string, number][]),
    bans: new Map((data.bans as HeldBan[]).map((ban) => [ban.address, ban])),
  };
}

/** Reads the record; a missing file is an empty record of `boot`. */
export async function readActionState(file: string, boot: string): Promise<ActionState> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyActionState(boot);
    throw new OperationError(`cannot read ${file}: ${messageOf(error)}`, { cause: error });
  }
  let state: ActionState | undefined;
  try {
    state = parse(text);
  } catch {
    state = undefined;
  }
  if (state === undefined) {
    throw new OperationError(`${file} is not an action state file of this version; remove it to run every ban's actionban again`);
  }
  return state;
}

/** Writes the record atomically (temp file + rename), creating its directory (mode 0700). */
export async function writeActionState(file: string, state: ActionState): Promise<void> {
  const data = {
    version: VERSION,
    boot: state.boot,
    started: Object.fromEntries(state.started),
    bans: [...state.bans.values()].map(({ address, family, bannedAt, expiresAt }) => ({ address, family, bannedAt, expiresAt })),
  };
  try {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await writeFileAtomic(file, `${JSON.stringify(data)}\n`);
  } catch (error) {
    throw new OperationError(`cannot write ${file}: ${messageOf(error)}`, { cause: error });
  }
}
