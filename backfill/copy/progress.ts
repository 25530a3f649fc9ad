// Backfill progress for people and for machines: bars with rows/s and ETA on a
// terminal, JSON lines with --json, a line per finished table otherwise.
import cliProgress from 'cli-progress';
import type { BackfillEvent } from './run-backfill.ts';

export interface ProgressSink {
  on(e: BackfillEvent): void;
  stop(): void;
}

export function progressSink(json: boolean): ProgressSink {
  if (json) return jsonLines();
  if (process.stderr.isTTY) return bars();
  return plainLines();
}

function jsonLines(): ProgressSink {
  const started = new Map<string, { at: number; from: number }>();
  return {
    on(e) {
      if (e.event === 'start') started.set(e.table, { at: Date.now(), from: e.resumedAt });
      if (e.event === 'warning') process.stderr.write(`warning: ${e.message}\n`);
      let extra = {};
      if (e.event === 'progress') {
        const s = started.get(e.table)!;
        const rate = (e.rows - s.from) / Math.max(0.001, (Date.now() - s.at) / 1000);
        extra = { rowsPerSecond: Math.round(rate), etaSeconds: rate > 0 ? Math.round((e.total - e.rows) / rate) : null };
      }
      process.stdout.write(JSON.stringify({ ...e, ...extra }) + '\n');
    },
    stop() {},
  };
}

function plainLines(): ProgressSink {
  return {
    on(e) {
      if (e.event === 'done') process.stderr.write(`${e.table}: ${e.rows} rows in ${e.seconds.toFixed(1)} s\n`);
      if (e.event === 'retry') process.stderr.write(`${e.table}: retry ${e.attempt} after: ${e.error}\n`);
      if (e.event === 'warning') process.stderr.write(`warning: ${e.message}\n`);
    },
    stop() {},
  };
}

function bars(): ProgressSink {
  const multi = new cliProgress.MultiBar({
    format: '{table} [{bar}] {percentage}% | {value}/{total} rows | {speed} rows/s | ETA {eta_formatted}',
    hideCursor: true,
    clearOnComplete: false,
    etaBuffer: 50,
    stream: process.stderr,
  }, cliProgress.Presets.shades_classic);
  const bar = new Map<string, { b: cliProgress.SingleBar; at: number; from: number }>();
  const width = 24;
  return {
    on(e) {
      if (e.event === 'start') {
        bar.set(e.table, { b: multi.create(Math.max(1, e.total), e.resumedAt, { table: e.table.padEnd(width).slice(0, width), speed: 0 }), at: Date.now(), from: e.resumedAt });
      } else if (e.event === 'progress') {
        const s = bar.get(e.table)!;
        const speed = Math.round((e.rows - s.from) / Math.max(0.001, (Date.now() - s.at) / 1000));
        s.b.setTotal(Math.max(1, e.total));
        s.b.update(e.rows, { speed });
      } else if (e.event === 'retry') {
        multi.log(`${e.table}: retry ${e.attempt} after: ${e.error}\n`);
      } else if (e.event === 'warning') {
        multi.log(`warning: ${e.message}\n`);
      }
    },
    stop() {
      multi.stop();
    },
  };
}
