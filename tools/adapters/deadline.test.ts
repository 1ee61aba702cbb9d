// Loads bounded by a timeout or an abort signal.
import { describe, expect, it, vi } from 'vitest';
import { withDeadline } from './deadline.ts';

describe('withDeadline', () => {
  it('passes a result through', async () => {
    await expect(withDeadline(Promise.resolve(3), { what: 'x', timeoutMs: 1000 })).resolves.toBe(3);
  });

  it('fails a load that never settles with a timeout error and releases it', async () => {
    const onGiveUp = vi.fn();
    const started = Date.now();
    await expect(withDeadline(new Promise(() => {}), { what: 'loading m', timeoutMs: 50, onGiveUp })).rejects.toMatchObject({
      name: 'AdapterError',
      code: 'adapter_load_timeout',
      message: expect.stringContaining('loading m'),
    });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(onGiveUp).toHaveBeenCalledOnce();
  });

  it('rejects with the abort reason when the caller aborts', async () => {
    const controller = new AbortController();
    const onGiveUp = vi.fn();
    const p = withDeadline(new Promise(() => {}), { what: 'x', signal: controller.signal, onGiveUp });
    controller.abort();
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    expect(onGiveUp).toHaveBeenCalledOnce();
  });

  it('keeps the library error when it fails first', async () => {
    const onGiveUp = vi.fn();
    await expect(withDeadline(Promise.reject(new Error('404')), { what: 'x', timeoutMs: 1000, onGiveUp })).rejects.toThrow('404');
    expect(onGiveUp).not.toHaveBeenCalled();
  });
});
