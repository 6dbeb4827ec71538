import assert from 'node:assert/strict';
import { LineFramer } from '../../src/serial/lineFramer.js';

function run(framer: LineFramer, chunks: Array<string | Buffer>): { lines: string[]; oversized: number } {
  const out = { lines: [] as string[], oversized: 0 };
  for (const c of chunks) {
    framer.push(Buffer.isBuffer(c) ? c : Buffer.from(c, 'latin1'), {
      line: (l) => out.lines.push(l.toString('latin1')),
      oversized: () => out.oversized++,
    });
  }
  return out;
}

describe('serial line framer', () => {
  it('splits on "\\n" and strips the "\\r" of "\\r\\n"', () => {
    const r = run(new LineFramer('\n', 64), ['a=1\r\nb=2\nc', '=3\r', '\n']);
    assert.deepEqual(r.lines, ['a=1', 'b=2', 'c=3']);
  });

  it('keeps an incomplete line until its delimiter arrives, byte by byte', () => {
    const f = new LineFramer('\n', 64);
    const r = run(
      f,
      [...'{"t":1}\n{"t":2}'].map((c) => c),
    );
    assert.deepEqual(r.lines, ['{"t":1}']);
    assert.equal(f.bufferedBytes, 7);
    assert.deepEqual(run(f, ['\n']).lines, ['{"t":2}']);
  });

  it('handles a multi-byte delimiter split across chunks', () => {
    const r = run(new LineFramer('\r\n', 64), ['one\r', '\ntwo\r', '\n', 'three\r\n']);
    assert.deepEqual(r.lines, ['one', 'two', 'three']);
  });

  it('with "\\r" as delimiter, drops the "\\n" of "\\r\\n"', () => {
    assert.deepEqual(run(new LineFramer('\r', 64), ['x\r\ny\r\n', 'z\r']).lines, ['x', 'y', 'z']);
  });

  it('skips empty lines', () => {
    assert.deepEqual(run(new LineFramer('\n', 64), ['\n\r\n\na\n\n']).lines, ['a']);
  });

  it('accepts a line of exactly maxLineBytes, even followed by "\\r\\n"', () => {
    const line = 'x'.repeat(16);
    assert.deepEqual(run(new LineFramer('\n', 16), [line + '\r', '\n']).lines, [line]);
    assert.deepEqual(run(new LineFramer('\n', 16), [line + '\n']).lines, [line]);
  });

  it('discards an over-long line up to the next delimiter and counts it once', () => {
    const f = new LineFramer('\n', 16);
    const r = run(f, ['ok\n', 'y'.repeat(40), 'y'.repeat(40), 'tail\nnext\n']);
    assert.deepEqual(r.lines, ['ok', 'next']);
    assert.equal(r.oversized, 1);
  });

  it('counts an over-long line that arrives whole with its delimiter', () => {
    const r = run(new LineFramer('\n', 16), ['z'.repeat(17) + '\nfine\n']);
    assert.deepEqual(r.lines, ['fine']);
    assert.equal(r.oversized, 1);
  });

  it('holds bounded memory through 100 KB of noise without a delimiter', () => {
    const f = new LineFramer('\n', 1024);
    let maxHeld = 0;
    const out = { lines: [] as string[], oversized: 0 };
    for (let i = 0; i < 100; i++) {
      const noise = Buffer.alloc(1024);
      for (let j = 0; j < noise.length; j++) noise[j] = 0x20 + ((i * 31 + j * 7) % 90); // printable, never "\n"
      f.push(noise, { line: (l) => out.lines.push(l.toString()), oversized: () => out.oversized++ });
      maxHeld = Math.max(maxHeld, f.bufferedBytes);
    }
    f.push(Buffer.from('\n{"ok":true}\n'), { line: (l) => out.lines.push(l.toString()), oversized: () => out.oversized++ });
    assert.ok(maxHeld <= 1025, `held ${maxHeld} bytes`);
    assert.deepEqual(out.lines, ['{"ok":true}']);
    assert.equal(out.oversized, 1);
  });

  it('reset() drops a partial line (a port that closed mid-line)', () => {
    const f = new LineFramer('\n', 64);
    run(f, ['{"partial":']);
    f.reset();
    assert.deepEqual(run(f, ['1}\n{"whole":1}\n']).lines, ['1}', '{"whole":1}']);
  });
});
