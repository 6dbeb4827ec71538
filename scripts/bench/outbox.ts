// CPU per message of the bridge's durable queue alone (src/bridge/outbox.ts) on a
// real SQLite file (WAL, synchronous NORMAL):
//   1. enqueue in groups of 20 (one group commit each, as a mosquitto_pub window),
//      each promise chained as broker.runInterceptors + authHooks chain it;
//   2. acknowledge every row in groups of 50 (one commit each, as PUBACK bursts);
//   3. steady state, as while the bridge keeps up: groups of 20 committed by the
//      outbox's own scheduling, the cloud acknowledging 100 rows behind, deletions
//      committed on their own timer; also the bytes written (wchar, /proc/self/io:
//      WAL frames and checkpoints) per message, as SD-card wear.
// CPU time (user + system) rather than wall time: steadier on a shared machine.
// Bounded: a fixed number of rounds of a fixed number of messages; best round kept.
//
//   npx tsx scripts/bench/outbox.ts [--messages 20000] [--rounds 7]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Outbox, type OutboxRow } from '../../src/bridge/outbox.js';
import { openDatabase } from '../../src/storage/database.js';
import { numberArg } from './lib/args.js';

const arg = numberArg;
const MESSAGES = arg('messages', 20_000);
const ROUNDS = arg('rounds', 7);
const payload = Buffer.alloc(40, 1);
const cpuUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** Bytes this process passed to write syscalls so far (Linux). */
const wchar = (): number => Number(/wchar: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))![1]);

async function round(): Promise<{ enqueueUs: number; ackUs: number; steadyUs: number; steadyBytes: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'edgegate-outbox-bench-'));
  const db = openDatabase(join(dir, 'q.db'));
  const committed: OutboxRow[] = [];
  const outbox = new Outbox(db, {
    maxMessages: 10_000_000,
    maxBytes: 1e12,
    ttlSec: 0,
    overflow: 'drop-oldest',
    commitDelayMs: 0,
    nowMs: () => Date.now(),
    onDrop: () => undefined,
    onCommitted: (rows) => {
      for (const r of rows) committed.push(r);
    },
    onError: (err) => {
      throw err;
    },
  });
  try {
    const c0 = cpuUs();
    for (let i = 0; i < MESSAGES; i += 20) {
      const acks: Array<Promise<void>> = [];
      for (let k = 0; k < 20; k++) {
        acks.push(
          outbox
            .enqueue({ topic: 'bench/t', payload, qos: 1, retain: false })
            .catch((err: unknown) => {
              throw err;
            })
            .then(() => undefined),
        );
      }
      outbox.flush();
      await Promise.all(acks);
    }
    const c1 = cpuUs();
    for (let i = 0; i < committed.length; i += 50) {
      for (let k = i; k < Math.min(i + 50, committed.length); k++) outbox.ack(committed[k]!);
      outbox.flush();
    }
    const c2 = cpuUs();
    if (outbox.messages !== 0) throw new Error(`${outbox.messages} rows left after acknowledging all`);
    committed.length = 0;
    const w0 = wchar();
    let acked = 0;
    for (let i = 0; i < MESSAGES; i += 20) {
      const acks: Array<Promise<void>> = [];
      for (let k = 0; k < 20; k++) acks.push(outbox.enqueue({ topic: 'bench/t', payload, qos: 1, retain: false }));
      await Promise.all(acks);
      while (acked < committed.length - 100) outbox.ack(committed[acked++]!);
      if (i % 200 === 180) await new Promise((r) => setTimeout(r, 1)); // timers (the deletion commit) get their turn
    }
    outbox.flush();
    const c3 = cpuUs();
    return { enqueueUs: (c1 - c0) / MESSAGES, ackUs: (c2 - c1) / MESSAGES, steadyUs: (c3 - c2) / MESSAGES, steadyBytes: (wchar() - w0) / MESSAGES };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

let best = { enqueueUs: Infinity, ackUs: Infinity, steadyUs: Infinity, steadyBytes: Infinity };
for (let r = 0; r < ROUNDS; r++) {
  const x = await round();
  best = {
    enqueueUs: Math.min(best.enqueueUs, x.enqueueUs),
    ackUs: Math.min(best.ackUs, x.ackUs),
    steadyUs: Math.min(best.steadyUs, x.steadyUs),
    steadyBytes: Math.min(best.steadyBytes, x.steadyBytes),
  };
}
console.log(`outbox, ${MESSAGES} messages, best of ${ROUNDS} rounds (CPU per message):`);
console.log(`  enqueue + group commit (20 per commit): ${best.enqueueUs.toFixed(2)} µs`);
console.log(`  acknowledge + delete (50 per commit):   ${best.ackUs.toFixed(2)} µs`);
console.log(`  steady state (20 per commit, deletions on their timer): ${best.steadyUs.toFixed(2)} µs, ${best.steadyBytes.toFixed(0)} bytes written`);
