// A ByteSource over a local file (Node only: the companion and the CLI), reading just the ranges
// asked for, so opening a 4 GB model to run two layers reads two layers.
import { open, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { LocatedSource } from '../gguf/split.ts';
import { EngineError } from './errors.ts';

export interface FileSource extends LocatedSource {
  /** Closes the file and every shard opened beside it. */
  close(): Promise<void>;
}

export async function fileSource(path: string): Promise<FileSource> {
  let fh: FileHandle;
  let size: number;
  try {
    fh = await open(path, 'r');
    const st = await fh.stat();
    if (!st.isFile()) {
      await fh.close();
      throw new Error('not a regular file');
    }
    size = st.size;
  } catch (cause) {
    const why = (cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : String((cause as Error).message ?? cause);
    throw new EngineError('engine_model_unreadable', `cannot open model file ${path}: ${why}; pass a GGUF file, an http(s) URL, or a test model name`, {
      cause,
    });
  }
  const siblings: FileSource[] = []; // a split model's other shards, closed with this one
  const readInto = async (offset: number, into: Uint8Array): Promise<number> => {
    const n = Math.max(0, Math.min(into.byteLength, size - offset));
    let got = 0;
    while (got < n) {
      const { bytesRead } = await fh.read(into, got, n - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got;
  };
  return {
    size,
    fileName: basename(path),
    async openSibling(fileName) {
      const s = await fileSource(join(dirname(path), fileName));
      siblings.push(s);
      return s;
    },
    async read(offset, length) {
      const buf = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
      const got = await readInto(offset, buf);
      return got === buf.byteLength ? buf : buf.subarray(0, got);
    },
    readInto,
    async close() {
      await Promise.all(siblings.splice(0).map((s) => s.close()));
      await fh.close();
    },
  };
}
