// The page's live stream: a status on attach, every 2 s and shortly after a
// client change (debounced), samples as they come, nothing running without an
// open page, and a stream closed once its session is gone. Fake clock, fake response.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { GatewayClock } from '../../src/clock/gatewayClock.js';
import { EventStream } from '../../src/ops/page/eventStream.js';
import type { Sample } from '../../src/ops/sampler.js';
import { FakeTimeSource } from '../helpers/fakeTimeSource.js';

class FakeResponse extends EventEmitter {
  chunks: string[] = [];
  ended = false;
  status = 0;
  headers: Record<string, string> = {};
  writeHead(status: number, headers: Record<string, string>): this {
    this.status = status;
    this.headers = headers;
    return this;
  }
  write(chunk: string): boolean {
    this.chunks.push(chunk);
    return true;
  }
  end(): this {
    this.ended = true;
    this.emit('close');
    return this;
  }
  events(name: string): unknown[] {
    return this.chunks.filter((c) => c.startsWith(`event: ${name}\n`)).map((c) => JSON.parse(c.split('\ndata: ')[1]!));
  }
}

function setup() {
  const time = new FakeTimeSource(Date.parse('2026-12-01T12:00:00Z'));
  const clock = new GatewayClock(time);
  let n = 0;
  const changeListeners = new Set<() => void>();
  const sampleListeners = new Set<(s: Sample) => void>();
  const stream = new EventStream({
    clock,
    status: () => ({ n: ++n }),
    sampler: { onSample: (fn) => (sampleListeners.add(fn), () => sampleListeners.delete(fn)) },
    changes: (fn) => (changeListeners.add(fn), () => changeListeners.delete(fn)),
  });
  return { time, stream, changeListeners, sampleListeners };
}

const attach = (stream: EventStream, alive: () => boolean = () => true): FakeResponse => {
  const res = new FakeResponse();
  stream.attach(res as unknown as ServerResponse, { 'X-Test': '1' }, alive);
  return res;
};

describe('status page event stream', () => {
  it('sends a status at once, every 2 s, and 0.2 s after client changes (coalesced); samples as they come', () => {
    const { time, stream, changeListeners, sampleListeners } = setup();
    const res = attach(stream);
    assert.equal(res.status, 200);
    assert.match(res.headers['Content-Type']!, /^text\/event-stream/);
    assert.equal(res.headers['X-Test'], '1');
    assert.equal(res.events('status').length, 1);
    time.advance(2000);
    assert.equal(res.events('status').length, 2);
    for (const fn of changeListeners) fn();
    for (const fn of changeListeners) fn();
    time.advance(199);
    assert.equal(res.events('status').length, 2);
    time.advance(1);
    assert.equal(res.events('status').length, 3, 'two changes, one status');
    for (const fn of sampleListeners) fn({ clients: 1 } as Sample);
    assert.deepEqual(res.events('sample'), [{ clients: 1 }]);
    stream.stop();
    assert.equal(res.ended, true);
  });

  it('runs nothing while no page is open', () => {
    const { time, stream, changeListeners, sampleListeners } = setup();
    const res = attach(stream);
    res.emit('close'); // the tab went away
    assert.equal(stream.open, 0);
    assert.equal(changeListeners.size, 0);
    assert.equal(sampleListeners.size, 0);
    assert.equal(time.pendingTimers(), 0, 'no timer left');
  });

  it('closes a stream whose session has ended', () => {
    const { time, stream } = setup();
    let alive = true;
    const res = attach(stream, () => alive);
    alive = false;
    time.advance(2000);
    assert.equal(res.ended, true);
    assert.equal(stream.open, 0);
  });
});
