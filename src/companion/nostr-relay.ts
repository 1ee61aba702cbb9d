// A local Nostr relay (NIP-01, NIP-09, NIP-11, NIP-40) so peers can discover each other with no
// internet: @nostr-relay/core on a `ws` server over an in-memory, capped event store.
import { createServer } from 'node:http';
import type { IncomingMessage as HttpRequest, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { NostrRelay } from '@nostr-relay/core';
import { Validator } from '@nostr-relay/validator';
import type { ClientContext, Event, HandleMessageResult, IncomingMessage } from '@nostr-relay/common';
import { createOutgoingEventMessage, createOutgoingNoticeMessage } from '@nostr-relay/common';
import { matchFilters } from 'nostr-tools/filter';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { MemoryEventRepository, isExpired } from './memory-event-repository.ts';

export interface NostrRelayOptions {
  host: string;
  port: number;
  maxEvents?: number;
  /** Largest message accepted from a client. */
  maxMessageBytes?: number;
  /** Serve wss:// with this certificate (`npm start -- --https`): an https page may not open ws:// to another host. */
  tls?: { cert: string; key: string };
}

export interface RunningNostrRelay {
  port: number;
  repository: MemoryEventRepository;
  stop(): Promise<void>;
}

const INFO = {
  name: 'mesh-llm-web companion relay',
  description: 'Local relay for discovering mesh peers without internet; events live in memory only.',
  supported_nips: [1, 9, 11, 40],
  software: 'mesh-llm-web',
};

export async function startNostrRelay(options: NostrRelayOptions): Promise<RunningNostrRelay> {
  const repository = new MemoryEventRepository({ maxEvents: options.maxEvents ?? 10_000 });
  // No result cache: announcements must be visible to the next REQ at once.
  const relay = new NostrRelay(repository, { filterResultCacheTtl: 0, logger: quietLogger });
  const validator = new Validator();
  const contexts = new Map<WebSocket, ClientContext>();
  relay.register({
    handleMessage(ctx: ClientContext, _message: IncomingMessage, next: () => Promise<HandleMessageResult>) {
      contexts.set(ctx.client as WebSocket, ctx);
      return next();
    },
  });
  relay.register({
    beforeHandleEvent(event: Event) {
      return isExpired(event, Math.floor(Date.now() / 1000)) ? { canHandle: false, message: 'invalid: event has expired' } : { canHandle: true };
    },
  });
  // The core's live broadcast ignores tag filters (#t, #d…), which discovery relies on; match fully here.
  relay.register({
    async broadcast(event: Event) {
      for (const ctx of contexts.values()) {
        if (!ctx.isOpen) continue;
        ctx.subscriptions.forEach((filters, subscriptionId) => {
          if (matchFilters(filters as Parameters<typeof matchFilters>[0], event)) ctx.sendMessage(createOutgoingEventMessage(subscriptionId, event));
        });
      }
    },
  });

  const answer = (req: HttpRequest, res: ServerResponse) => {
    if (req.headers.accept?.includes('application/nostr+json')) {
      res.writeHead(200, { 'Content-Type': 'application/nostr+json', 'Access-Control-Allow-Origin': '*' });
      return void res.end(JSON.stringify(INFO));
    }
    res.writeHead(426, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('this is a Nostr relay: connect with a WebSocket\n');
  };
  const http = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, answer) : createServer(answer);
  const wss = new WebSocketServer({ server: http, maxPayload: options.maxMessageBytes ?? 256 * 1024 });
  wss.on('connection', (ws, req) => {
    relay.handleConnection(ws, req.socket.remoteAddress);
    ws.on('message', async (data) => {
      try {
        const message = await validator.validateIncomingMessage(data as Buffer);
        await relay.handleMessage(ws, message);
      } catch (error) {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(createOutgoingNoticeMessage(`invalid: ${(error as Error).message}`)));
      }
    });
    ws.on('close', () => {
      contexts.delete(ws);
      relay.handleDisconnect(ws);
    });
    ws.on('error', () => ws.terminate());
  });

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port, options.host, () => {
      http.off('error', reject);
      resolve();
    });
  });

  return {
    port: (http.address() as AddressInfo).port,
    repository,
    async stop() {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await relay.destroy();
      await repository.destroy();
    },
  };
}

const quietLogger = {
  setLogLevel() {},
  debug() {},
  info() {},
  warn(...args: unknown[]) {
    console.warn('nostr relay:', ...args);
  },
  error(...args: unknown[]) {
    console.error('nostr relay:', ...args);
  },
};
