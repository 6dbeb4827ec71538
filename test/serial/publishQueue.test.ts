import assert from 'node:assert/strict';
import { PublishQueue } from '../../src/serial/publishQueue.js';

describe('serial publish queue', () => {
  it('publishes in order one at a time, pauses when full (by count or bytes) and resumes at a tenth', async () => {
    const events: string[] = [];
    const published: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    let gate!: () => void;
    let blocked: Promise<void> | undefined = new Promise((r) => (gate = r));
    const q = new PublishQueue(
      {
        publish: async (p) => {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          if (blocked) await blocked;
          await new Promise((r) => setImmediate(r));
          published.push(p.toString());
          inFlight--;
        },
        published: () => undefined,
        failed: () => events.push('failed'),
        pause: () => events.push(`pause@${q.length}`),
        resume: () => events.push(`resume@${q.length}`),
      },
      10,
      1000,
    );
    for (let i = 0; i < 12; i++) q.enqueue(Buffer.from(String(i)));
    assert.deepEqual(events, ['pause@10']);
    blocked = undefined;
    gate();
    await q.drain();
    assert.deepEqual(published, Array.from({ length: 12 }, (_, i) => String(i)));
    assert.deepEqual(events, ['pause@10', 'resume@1']);
    assert.equal(maxInFlight, 1);

    events.length = 0;
    // The first goes out at once; the two behind it hold 1200 bytes, above 1000.
    for (let i = 0; i < 3; i++) q.enqueue(Buffer.alloc(600));
    assert.deepEqual(events, ['pause@2'], 'paused by bytes');
    await q.drain();
    assert.deepEqual(events, ['pause@2', 'resume@0']);
  });

  it('a failed publish is reported and the next one still goes out', async () => {
    const out: string[] = [];
    const q = new PublishQueue({
      publish: async (p) => {
        if (p.toString() === 'bad') throw new Error('broker closed');
        out.push(p.toString());
      },
      published: () => undefined,
      failed: () => out.push('failed'),
      pause: () => undefined,
      resume: () => undefined,
    });
    for (const s of ['a', 'bad', 'b']) q.enqueue(Buffer.from(s));
    await q.drain();
    assert.deepEqual(out, ['a', 'failed', 'b']);
  });
});
