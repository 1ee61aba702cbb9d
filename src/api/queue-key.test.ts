// The fair queue's key comes from the connection, not from a header the client picks: a client that
// names itself anew on every request must not get a turn per name.
import { describe, expect, it } from 'vitest';
import { queueKey } from './node-adapter.ts';

describe('queueKey', () => {
  it('is the remote address, whatever x-mesh-client says', () => {
    const req = (address: string | undefined, client?: string) =>
      ({ socket: { remoteAddress: address }, headers: client ? { 'x-mesh-client': client } : {} }) as unknown as Parameters<typeof queueKey>[0];
    expect(queueKey(req('10.0.0.5', 'agent-1'))).toBe('10.0.0.5');
    expect(queueKey(req('10.0.0.5', 'agent-2'))).toBe(queueKey(req('10.0.0.5')));
    expect(queueKey(req(undefined, 'x'))).toBe('unknown');
  });
});
