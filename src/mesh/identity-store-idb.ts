// The browser's identity store: one record in IndexedDB, so a tab keeps its peer id and Nostr key
// across reloads (and the mesh keeps its plan for it). Keys are stored as strings in a
// database of their own, apart from model caches that users may clear.
import { openDB, type IDBPDatabase } from 'idb';
import type { IdentityRecord, IdentityStore } from './identity.ts';

const DB_NAME = 'mesh-llm-web-identity';
const STORE = 'identity';
const KEY = 'self';

export class IdbIdentityStore implements IdentityStore {
  private db: Promise<IDBPDatabase> | undefined;
  private readonly dbName: string;

  /** `dbName` lets tests and several profiles in one origin keep apart. */
  constructor(dbName = DB_NAME) {
    this.dbName = dbName;
  }

  private open(): Promise<IDBPDatabase> {
    this.db ??= openDB(this.dbName, 1, {
      upgrade(db) {
        if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE);
      },
    });
    return this.db;
  }

  async load(): Promise<unknown> {
    return (await this.open()).get(STORE, KEY);
  }

  async save(record: IdentityRecord): Promise<void> {
    await (await this.open()).put(STORE, record, KEY);
  }

  async close(): Promise<void> {
    if (this.db) (await this.db).close();
    this.db = undefined;
  }
}
