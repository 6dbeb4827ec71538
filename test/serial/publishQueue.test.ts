import assert from 'node:assert/strict';
import { PublishQueue } from '../../src/serial/publishQueue.js';

describe('serial publish queue', () => {
  it('starts publishes in order within a window, pauses when full (by count or bytes) and resumes at a tenth', async () => {
    const events: string[] = [];
    const started: string[] = [];
    const completed: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    let gate!: () => void;
    let blocked: Promise<void> | undefined = new Promise((r) => (gate = r));
    const q = new PublishQueue(
      {
        publish: async (p) => {
          started.push(p.toString());
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          if (blocked) await blocked;
          await new Promise((r) => setImmediate(r));
          inFlight--;
        },
        published: () => completed.push('ok'),
        failed: () => events.push('failed'),
        pause: () => events.push(`pause@${q.length}`),
        resume: () => events.push(`resume@${q.length}`),
      },
      { high: 10, highBytes: 1000, window: 4 },
    );
    for (let i = 0; i < 12; i++) q.enqueue(Buffer.from(String(i)));
    assert.deepEqual(events, ['pause@10']);
    assert.deepEqual(started, ['0', '1', '2', '3'], 'no more than the window in flight');
    blocked = undefined;
    gate();
    await q.drain();
    assert.deepEqual(
      started,
      Array.from({ length: 12 }, (_, i) => String(i)),
    );
    assert.equal(completed.length, 12);
    assert.deepEqual(events, ['pause@10', 'resume@1']);
    assert.equal(maxInFlight, 4);
    assert.equal(q.length, 0);

    events.length = 0;
    for (let i = 0; i < 2; i++) q.enqueue(Buffer.alloc(600));
    assert.deepEqual(events, ['pause@2'], 'paused by bytes (in flight included)');
    await q.drain();
    assert.deepEqual(events, ['pause@2', 'resume@0']);
  });

  it('a failed publish is reported and the next one still goes out', async () => {
    const out: string[] = [];
    const q = new PublishQueue({
      publish: async (p) => {
        if (p.toString() === 'bad') throw new Error('broker closed');
      },
      published: () => out.push('ok'),
      failed: () => out.push('failed'),
      pause: () => undefined,
      resume: () => undefined,
    });
    for (const s of ['a', 'bad', 'b']) q.enqueue(Buffer.from(s));
    await q.drain();
    assert.deepEqual(out, ['ok', 'failed', 'ok']);
  });
});
