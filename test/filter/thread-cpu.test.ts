import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { currentThreadId, threadCpuMs } from '../../src/filter/thread-cpu.js';

describe('thread-cpu: one thread\'s CPU time from /proc', () => {
  it('knows this thread, and its CPU time grows with work done, not with time asleep', async () => {
    const tid = currentThreadId();
    assert.ok(tid > 0, 'a Linux task id');
    const before = threadCpuMs(tid);
    assert.ok(before !== undefined && before >= 0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const slept = threadCpuMs(tid)!;
    assert.ok(slept - before < 150, `asleep for 300 ms, ${slept - before} ms of CPU`);
    // Busy until 100 ms of CPU show, however long a loaded machine takes to give them.
    const giveUp = performance.now() + 30_000;
    let worked = slept;
    while (worked - slept < 100 && performance.now() < giveUp) worked = threadCpuMs(tid)!;
    assert.ok(worked - slept >= 100, `busy for 30 s, ${worked - slept} ms of CPU`);
  });

  it('a thread that is not there, or no id, has no CPU time to tell', () => {
    assert.equal(threadCpuMs(0), undefined);
    assert.equal(threadCpuMs(2 ** 30), undefined);
  });
});
