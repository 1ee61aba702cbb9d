// Encoding and decoding of gossip messages on the wire (UTF-8 JSON, size-capped), with the check
// that a message's claimed sender is the libp2p peer that signed the pubsub message.
import { MAX_GOSSIP_BYTES, validateGossipMessage, type GossipMessage } from '../protocol/mesh-messages.ts';
import { rejected, type Checked } from '../protocol/mesh-checks.ts';
import { fromUtf8, utf8 } from './bytes.ts';

export function encodeGossip(message: GossipMessage): Uint8Array<ArrayBuffer> {
  const bytes = utf8(JSON.stringify(message));
  if (bytes.length > MAX_GOSSIP_BYTES) throw new RangeError(`gossip message is ${bytes.length} bytes, over the ${MAX_GOSSIP_BYTES}-byte limit`);
  return bytes;
}

/** Bytes from pubsub to a checked message; `from` is the pubsub message's signed sender. Never throws. */
export function decodeGossip(bytes: unknown, from: string): Checked<GossipMessage> {
  if (!(bytes instanceof Uint8Array)) return rejected('malformed', 'gossip data is bytes');
  if (bytes.length > MAX_GOSSIP_BYTES) return rejected('too_large', `gossip message is over ${MAX_GOSSIP_BYTES} bytes`);
  const text = fromUtf8(bytes);
  if (text === undefined) return rejected('malformed', 'gossip message is not UTF-8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return rejected('malformed', 'gossip message is not JSON');
  }
  const checked = validateGossipMessage(value);
  if (checked.ok && checked.value.peerId !== from)
    return rejected('binding_mismatch', `message claims to be from ${checked.value.peerId} but was sent by ${from}`);
  return checked;
}

/** Keeps the newest sequence number per sender and type, so replays and reorders are dropped. */
export class SequenceFilter {
  private readonly newest = new Map<string, number>();

  accept(message: GossipMessage): boolean {
    const key = `${message.peerId} ${message.type}`;
    const seen = this.newest.get(key);
    if (seen !== undefined && message.seq <= seen) return false;
    this.newest.set(key, message.seq);
    return true;
  }

  forget(peerId: string): void {
    for (const key of [...this.newest.keys()]) if (key.startsWith(`${peerId} `)) this.newest.delete(key);
  }
}
