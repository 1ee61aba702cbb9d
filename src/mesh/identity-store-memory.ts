// An identity store that forgets on reload: for tests, and for tabs that must not persist keys.
import type { IdentityRecord, IdentityStore } from './identity.ts';

export class MemoryIdentityStore implements IdentityStore {
  private record: unknown;

  constructor(initial?: unknown) {
    this.record = initial;
  }

  async load(): Promise<unknown> {
    return this.record === undefined ? undefined : structuredClone(this.record);
  }

  async save(record: IdentityRecord): Promise<void> {
    this.record = structuredClone(record);
  }
}
