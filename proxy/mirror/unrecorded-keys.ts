// Dirty keys a session could not record on the source itself (its connection
// was lost after the mirror was written), held by the drainer of that source
// until its next drain records them (drainer.ts, sqlite-drainer.ts).
import type { Logger } from '../../common/log.ts';
import type { DirtyKey } from '../capture/dialect.ts';

export class UnrecordedKeys {
  private keys: DirtyKey[] = [];

  constructor(private readonly log: Logger) {}

  get size(): number {
    return this.keys.length;
  }

  add(keys: DirtyKey[]): void {
    if (!keys.length) return;
    this.keys.push(...keys);
    this.log.warn({ keys: keys.length }, 'drainer: keys left dirty by a session that lost its source connection; recording them at the next drain');
  }

  /** Hands the keys held to `record`; kept (ahead of any added meanwhile) if it fails. */
  async recordWith(record: (keys: DirtyKey[]) => Promise<void>): Promise<void> {
    if (!this.keys.length) return;
    const keys = this.keys;
    this.keys = [];
    try {
      await record(keys);
    } catch (e) {
      this.keys.unshift(...keys);
      throw e;
    }
  }
}
