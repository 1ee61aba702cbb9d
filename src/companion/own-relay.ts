// The companion's own connection to its Nostr relay (to keep its announcement there). Over wss the
// relay's certificate is self-signed, which Node's global WebSocket refuses; this trusts exactly that
// certificate (not every one) by handing nostr-tools a `ws` client that carries it as its CA.
import { AbstractRelay } from 'nostr-tools/abstract-relay';
import { verifyEvent } from 'nostr-tools/pure';
import type { Relay } from 'nostr-tools/relay';
import { WebSocket as WsClient } from 'ws';

/** Connects to `url` trusting `ca` (a PEM certificate) on top of nothing else. */
export async function connectRelayTrusting(url: string, ca: string): Promise<Relay> {
  class TrustingWebSocket extends WsClient {
    constructor(address: string | URL, protocols?: string | string[]) {
      super(address, protocols, { ca });
    }
  }
  const relay = new AbstractRelay(url, { verifyEvent, websocketImplementation: TrustingWebSocket as unknown as typeof WebSocket });
  await relay.connect();
  return relay;
}
