import { describe, expect, it } from 'vitest';
import { MAX_AUTO_THREADS, pickBackend } from './backend-choice.ts';

const isolated = { sharedMemory: true, cores: 16 };
const plain = { sharedMemory: false, cores: 16 };

describe('pickBackend', () => {
  it('auto is the WASM CPU backend: threaded when memory can be shared, single-threaded otherwise', () => {
    expect(pickBackend(undefined, undefined, isolated)).toEqual({ backend: 'cpu', threads: MAX_AUTO_THREADS });
    expect(pickBackend('auto', undefined, { sharedMemory: true, cores: 2 })).toEqual({ backend: 'cpu', threads: 2 });
    expect(pickBackend('auto', 8, plain)).toEqual({ backend: 'cpu', threads: 1 });
    expect(pickBackend('cpu', 3, isolated)).toEqual({ backend: 'cpu', threads: 3 });
  });

  it('forcing works, and nonsense is refused with a code', () => {
    expect(pickBackend('webgpu', undefined, isolated).backend).toBe('webgpu');
    expect(pickBackend('ref', 4, isolated)).toEqual({ backend: 'ref', threads: 1 });
    expect(() => pickBackend('tpu' as never, undefined, isolated)).toThrow(expect.objectContaining({ code: 'worker_bad_request' }));
    expect(() => pickBackend('cpu', 0, isolated)).toThrow(/threads must be a positive integer/);
  });
});
