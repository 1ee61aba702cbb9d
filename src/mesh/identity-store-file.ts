// Node's identity store (the companion): a JSON file written atomically with owner-only access.
// Node only; the browser uses identity-store-idb.ts.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { IdentityRecord, IdentityStore } from './identity.ts';

export class FileIdentityStore implements IdentityStore {
  private readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  async load(): Promise<unknown> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return { damaged: true };
    }
  }

  async save(record: IdentityRecord): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    await writeFile(`${this.path}.tmp`, JSON.stringify(record), { mode: 0o600 });
    await rename(`${this.path}.tmp`, this.path);
  }
}
