// One RTCDataChannel as a libp2p MultiaddrConnection, which the node's upgrader then secures with
// Noise and multiplexes with yamux like any other link (nostr-webrtc.ts). Messages are cut to
// 16 KiB, the size every WebRTC stack delivers whole; writes wait on the channel's buffered amount.
import type { Logger } from '@libp2p/interface';
import { AbstractMultiaddrConnection } from '@libp2p/utils';
import type { Multiaddr } from '@multiformats/multiaddr';

const MAX_MESSAGE_BYTES = 16 * 1024;
/** Above this many bytes queued in the channel, the writer waits for it to drain. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
const LOW_WATER_BYTES = 256 * 1024;

export interface DataChannelConnectionInit {
  readonly channel: RTCDataChannel;
  readonly peerConnection: RTCPeerConnection;
  readonly remoteAddr: Multiaddr;
  readonly direction: 'inbound' | 'outbound';
  readonly log: Logger;
}

class DataChannelConnection extends AbstractMultiaddrConnection {
  private readonly channel: RTCDataChannel;
  private readonly peerConnection: RTCPeerConnection;

  constructor(init: DataChannelConnectionInit) {
    super({ remoteAddr: init.remoteAddr, direction: init.direction, log: init.log, maxMessageSize: MAX_MESSAGE_BYTES });
    this.channel = init.channel;
    this.peerConnection = init.peerConnection;
    const channel = this.channel;
    channel.binaryType = 'arraybuffer';
    channel.bufferedAmountLowThreshold = LOW_WATER_BYTES;
    channel.addEventListener('message', (event: MessageEvent) => {
      const data = event.data as ArrayBuffer | string;
      if (typeof data === 'string') return this.abort(new Error('a text message on a binary WebRTC link'));
      if (data.byteLength > 0) this.onData(new Uint8Array(data));
    });
    channel.addEventListener('bufferedamountlow', () => {
      if (this.writableNeedsDrain) this.safeDispatchEvent('drain');
    });
    channel.addEventListener('close', () => this.onTransportClosed(), { once: true });
    // A closed tab or a lost network: ICE fails or the connection closes before the channel says so.
    this.peerConnection.addEventListener('connectionstatechange', () => {
      const state = this.peerConnection.connectionState;
      if (state === 'failed' || state === 'closed') this.onTransportClosed();
    });
  }

  sendData(data: Parameters<AbstractMultiaddrConnection['sendData']>[0]): { sentBytes: number; canSendMore: boolean } {
    if (this.channel.readyState !== 'open') return { sentBytes: 0, canSendMore: false };
    // send() takes views of a plain ArrayBuffer only: one on a shared buffer is copied out.
    for (const chunk of data) this.channel.send(chunk.buffer instanceof ArrayBuffer ? (chunk as Uint8Array<ArrayBuffer>) : new Uint8Array(chunk));
    return { sentBytes: data.byteLength, canSendMore: this.channel.bufferedAmount < MAX_BUFFERED_BYTES };
  }

  sendReset(): void {
    this.shut();
  }

  async sendClose(): Promise<void> {
    // Let what is queued leave before the channel closes (a second at most).
    const deadline = Date.now() + 1000;
    while (this.channel.readyState === 'open' && this.channel.bufferedAmount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    this.shut();
  }

  sendPause(): void {
    // A data channel has no read backpressure; yamux's windows bound what the peer sends.
  }

  sendResume(): void {}

  private shut(): void {
    this.channel.close();
    this.peerConnection.close();
  }
}

export function dataChannelConnection(init: DataChannelConnectionInit): AbstractMultiaddrConnection {
  return new DataChannelConnection(init);
}
