import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { applyInBatches, type BatchOutcome } from '../../src/backends/batch.js';
import { ExecError } from '../../src/backends/exec.js';

/**
 * A firewall of numbers: a command holding a bad number fails; an atomic one changes nothing
 * then, a non-atomic one (like ipset restore) keeps what came before the bad number.
 */
function firewall(bad: ReadonlySet<number>, atomic: boolean) {
  const held = new Map<number, number>();
  const batches: number[][] = [];
  const run = async (batch: readonly number[]): Promise<void> => {
    batches.push([...batch]);
    const at = batch.findIndex((n) => bad.has(n));
    for (const n of at === -1 || !atomic ? batch.slice(0, at === -1 ? batch.length : at) : []) held.set(n, (held.get(n) ?? 0) + 1);
    if (at !== -1) throw new ExecError(`refused ${batch[at]}`, { kind: 'exit', stderr: `Error in line ${at + 1}: refused\n`, code: 1 });
  };
  return { held, batches, run };
}

const sorted = (numbers: Iterable<number>): number[] => [...numbers].sort((a, b) => a - b);

/** Every item is reported once, applied or failed; the applied ones are held, the failed ones are the bad ones, each tried alone. */
function assertSettled(items: readonly number[], bad: ReadonlySet<number>, outcome: BatchOutcome<number>, held: ReadonlyMap<number, number>): void {
  assert.deepEqual(sorted([...outcome.applied, ...outcome.failed.map((f) => f.item)]), sorted(items));
  assert.deepEqual(sorted(outcome.applied), sorted(items.filter((n) => !bad.has(n))));
  assert.deepEqual(sorted(outcome.failed.map((f) => f.item)), sorted(bad));
  assert.ok(outcome.failed.every((f) => f.alone && f.error instanceof ExecError && f.error.message === `refused ${f.item}`));
  for (const n of outcome.applied) assert.ok((held.get(n) ?? 0) >= 1, `${n} is in the firewall`);
}

/** Items 0..n-1 and a subset of them that the firewall refuses. */
const itemsAndBad = fc.integer({ min: 1, max: 300 }).chain((n) => fc.tuple(
  fc.constant(Array.from({ length: n }, (_, i) => i)),
  fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { maxLength: Math.min(n, 12) }),
));

describe('applyInBatches', () => {
  it('runs one command when every item goes in, and none for no items', async () => {
    const { batches, run } = firewall(new Set(), true);
    assert.deepEqual(await applyInBatches([1, 2, 3], run), { applied: [1, 2, 3], failed: [], runs: 1 });
    assert.deepEqual(await applyInBatches([], run), { applied: [], failed: [], runs: 0 });
    assert.deepEqual(batches, [[1, 2, 3]]);
  });

  it('splits a failed batch in halves until the failing item stands alone', async () => {
    const { held, batches, run } = firewall(new Set([5]), true);
    const items = Array.from({ length: 8 }, (_, i) => i);
    const outcome = await applyInBatches(items, run);
    assertSettled(items, new Set([5]), outcome, held);
    assert.deepEqual(batches, [[0, 1, 2, 3, 4, 5, 6, 7], [0, 1, 2, 3], [4, 5, 6, 7], [4, 5], [4], [5], [6, 7]]);
  });

  for (const atomic of [true, false]) {
    it(`reports every good item applied once and every bad one failed, in at most 1 + 2·b·⌈log₂ n⌉ commands (${atomic ? 'atomic' : 'non-atomic'} commands)`, async () => {
      await fc.assert(fc.asyncProperty(itemsAndBad, async ([items, badList]) => {
        const bad = new Set(badList);
        const { held, run } = firewall(bad, atomic);
        const outcome = await applyInBatches(items, run, { budget: Infinity });
        assertSettled(items, bad, outcome, held);
        if (atomic) assert.ok([...held.values()].every((times) => times === 1), 'an atomic firewall took each good item once');
        assert.ok(outcome.runs <= 1 + 2 * bad.size * Math.ceil(Math.log2(items.length)), `${outcome.runs} commands for ${bad.size} bad of ${items.length}`);
      }), { numRuns: 300 });
    });
  }

  it('stops at an error no item is to blame for: every item not applied fails with it, nothing more runs', async () => {
    let runs = 0;
    const missing = new ExecError('nft not found: install nftables', { kind: 'missing' });
    const outcome = await applyInBatches([1, 2, 3, 4], async (batch) => {
      runs++;
      if (batch.includes(3)) throw missing;
    }, { fatal: (error) => error instanceof ExecError && error.kind === 'missing', chunk: 2 });
    assert.equal(runs, 2);
    assert.deepEqual(outcome.applied, [1, 2]);
    assert.deepEqual(outcome.failed, [{ item: 3, error: missing, alone: false }, { item: 4, error: missing, alone: false }]);
  });

  it('spends at most its budget of commands, then reports what is left as not tried alone', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 2000 }), fc.integer({ min: 1, max: 64 }), async (n, budget) => {
      const items = Array.from({ length: n }, (_, i) => i);
      const { held, run } = firewall(new Set(items), true);
      const outcome = await applyInBatches(items, run, { budget });
      assert.ok(outcome.runs <= budget, `${outcome.runs} commands, budget ${budget}`);
      assert.equal(held.size, 0);
      assert.deepEqual(sorted(outcome.failed.map((f) => f.item)), items);
      const spent = outcome.failed.filter((f) => !f.alone);
      assert.ok(spent.every((f) => /not retried alone: the \d+ commands one apply may run were spent/.test((f.error as Error).message)));
      assert.equal(spent.length === 0, 2 * n - 1 <= budget, 'splitting to single items takes 2n-1 commands');
    }), { numRuns: 100 });
  });

  it('goes in chunks when asked: one command per item with chunks of one', async () => {
    const { batches, run } = firewall(new Set([2]), true);
    const outcome = await applyInBatches([1, 2, 3], run, { chunk: 1 });
    assert.deepEqual(batches, [[1], [2], [3]]);
    assert.deepEqual(outcome.applied, [1, 3]);
    assert.deepEqual(outcome.failed.map((f) => f.item), [2]);
  });

  it('after a failed first command, lets the triage settle items from the real state and runs the rest whole again', async () => {
    const { batches, run } = firewall(new Set([4, 7]), true);
    const seen: unknown[] = [];
    const outcome = await applyInBatches([1, 2, 3, 4, 5, 6, 7], run, {
      triage: async (items, error) => {
        seen.push(error);
        return { applied: [4], failed: [{ item: 7, error: 'set gone' }], rest: items.filter((n) => n !== 4 && n !== 7) };
      },
    });
    assert.equal(seen.length, 1);
    assert.deepEqual(batches, [[1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 5, 6]]);
    assert.deepEqual(sorted(outcome.applied), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(outcome.failed, [{ item: 7, error: 'set gone', alone: true }]);
  });

  it('fails every item with the triage\'s own error when the triage cannot read the state', async () => {
    const { run } = firewall(new Set([2]), true);
    const unreadable = new Error('listing table: permission denied');
    const outcome = await applyInBatches([1, 2, 3], run, { triage: () => Promise.reject(unreadable) });
    assert.equal(outcome.runs, 1);
    assert.deepEqual(outcome.failed.map((f) => [f.item, f.error, f.alone]), [[1, unreadable, false], [2, unreadable, false], [3, unreadable, false]]);
  });

  it('takes a million items in one command', async () => {
    const items = Array.from({ length: 1_000_000 }, (_, i) => i);
    const outcome = await applyInBatches(items, async () => undefined);
    assert.equal(outcome.applied.length, 1_000_000);
    assert.equal(outcome.runs, 1);
  });
});
