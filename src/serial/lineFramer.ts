// Splits a serial byte stream into lines on a configured delimiter, with bounded
// memory: at most maxLineBytes (plus the delimiter) is ever held. A line longer
// than maxLineBytes is reported once and everything up to the next delimiter is
// discarded, so a device spewing noise without a delimiter costs nothing but CPU.
// We do not use @serialport/parser-readline/-delimiter: they buffer without bound.

export interface FramerSink {
  line(line: Buffer): void;
  /** Called once per over-long line, when it is detected (before its end arrives). */
  oversized(): void;
}

const CR = 0x0d;
const LF = 0x0a;

export class LineFramer {
  private readonly delimiter: Buffer;
  private pending: Buffer = Buffer.alloc(0);
  /** True while skipping the rest of an over-long line. */
  private discarding = false;

  constructor(
    delimiter: string,
    private readonly maxLineBytes: number,
  ) {
    this.delimiter = Buffer.from(delimiter, 'utf8');
    if (this.delimiter.length === 0) throw new Error('delimiter must not be empty');
  }

  /** Bytes held for an incomplete line (bounded by maxLineBytes + delimiter length). */
  get bufferedBytes(): number {
    return this.pending.length;
  }

  /** Drops an incomplete line (the port closed: a partial line is never published). */
  reset(): void {
    this.pending = Buffer.alloc(0);
    this.discarding = false;
  }

  push(chunk: Buffer, sink: FramerSink): void {
    const delim = this.delimiter;
    const data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    let start = 0;
    for (;;) {
      const idx = data.indexOf(delim, start);
      if (idx === -1) break;
      if (this.discarding) {
        this.discarding = false; // the over-long line ends here; it was counted when detected
      } else {
        const line = this.trim(data.subarray(start, idx));
        if (line.length > this.maxLineBytes) sink.oversized();
        else if (line.length > 0) sink.line(line);
      }
      start = idx + delim.length;
    }
    const rest = data.subarray(start);
    // Keep only what could still start a delimiter: a split "\r\n" or multi-byte delimiter.
    const keep = delim.length - 1;
    if (this.discarding) {
      this.pending = Buffer.from(rest.subarray(Math.max(0, rest.length - keep)));
    } else if (rest.length > this.maxLineBytes + delim.length) {
      // Even without a trailing "\r" and a partial delimiter this line is too long.
      sink.oversized();
      this.discarding = true;
      this.pending = Buffer.from(rest.subarray(Math.max(0, rest.length - keep)));
    } else {
      // Copy: the chunk may be a slice of a larger read pool we should not retain.
      this.pending = Buffer.from(rest);
    }
  }

  /** "\r\n" with a "\n" delimiter (or "\n\r"-style with "\r"): drop the other half. */
  private trim(line: Buffer): Buffer {
    const d = this.delimiter;
    if (d.length === 1 && d[0] === LF && line.length > 0 && line[line.length - 1] === CR) return line.subarray(0, line.length - 1);
    if (d.length === 1 && d[0] === CR && line.length > 0 && line[0] === LF) return line.subarray(1);
    return line;
  }
}
