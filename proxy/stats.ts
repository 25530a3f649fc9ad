// Counters a proxy keeps about itself: cheap field increments on the hot path,
// read by `stats()`, the control API and the metrics exporter.
export class ProxyStats {
  sessionsOpened = 0;
  sessionsOpen = 0;
  requests = 0;
  bytesIn = 0;
  bytesOut = 0;
  /** Whether the last attempt to reach the source succeeded. */
  sourceAvailable = true;
  targetAvailable: boolean | null = null;

  sourceUp(): void {
    this.sourceAvailable = true;
  }

  sourceDown(): void {
    this.sourceAvailable = false;
  }

  snapshot() {
    return {
      sessionsOpened: this.sessionsOpened,
      sessionsOpen: this.sessionsOpen,
      requests: this.requests,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      sourceAvailable: this.sourceAvailable,
      targetAvailable: this.targetAvailable,
    };
  }
}
