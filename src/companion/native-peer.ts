// A headless native peer (`npm start -- --join <invite link> --serve`): no app, relay or API, only a
// PeerNode in Node that dials the head over QUIC, follows its layer plans and runs its stage in this
// process on the WASM kernels (several threads over worker_threads). Its weights come from the app
// that sent the invite, `<app>/models/<id>.gguf`, downloaded once into the cache folder.
import { availableParallelism, totalmem } from 'node:os';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { computeFor } from '../engine/backend.ts';
import { fileSource } from '../engine/file-source.ts';
import { openModel, type ComputeOptions, type ModelFile } from '../engine/model.ts';
import { createIdentity } from '../mesh/identity.ts';
import { decodeInvite, readJoinLink, type Invite } from '../mesh/invite.ts';
import { PeerNode } from '../mesh/net/peer-node.ts';
import { MeshError } from '../protocol/errors.ts';
import { downloadModel, type DownloadOptions } from './model-download.ts';
import { quicListenAddress, quicPortError, quicTransport, webTransportPortError } from './native-transports.ts';
import { webTransportListenAddress, webTransportListener } from './webtransport-listener.ts';

export interface NativePeerOptions {
  /** The invite link `npm start` printed (`<app>/#join=<token>`); a bare token cannot say where the weights are. */
  readonly join: string;
  /** Address the QUIC listener binds to, and its UDP port (0 = any free one). */
  readonly host: string;
  readonly quicPort: number;
  /** UDP port of its WebTransport bridge, which tabs of the mesh dial (0 = any free one; absent: none). */
  readonly webTransportPort?: number;
  /** Memory for the layers it holds; 0 = half of this machine's memory. */
  readonly budgetBytes: number;
  /** Downloaded models go under `<cacheDir>/<app host_port>/`, so two heads' models of one name never mix. */
  readonly cacheDir: string;
  /** 'cpu': the WASM kernels (the reference ones where they do not load); 'ref': the scalar ones. */
  readonly backend: 'cpu' | 'ref';
  /** WASM threads of its stage, counting this one (default: this machine's cores, at most 8). */
  readonly threads?: number;
  /** How long to wait for the head to prove membership before giving up (default 30 s). */
  readonly joinTimeoutMs?: number;
  readonly download?: Pick<DownloadOptions, 'fetch' | 'onProgress'>;
  readonly log?: (line: string) => void;
}

export interface NativePeer {
  readonly node: PeerNode;
  readonly peerId: string;
  readonly meshId: string;
  /** Where its weights come from: `<app>/models/`. */
  readonly modelsUrl: string;
  stop(): Promise<void>;
}

export type NativePeerErrorCode = 'native_peer_no_app' | 'native_peer_head_unreachable';

export class NativePeerError extends MeshError {
  constructor(code: NativePeerErrorCode, message: string) {
    super(code, message);
    this.name = 'NativePeerError';
  }
}

/** The invite and the app origin its weights are published under, from a link; throws InviteError or NativePeerError. */
export async function readInvite(join: string): Promise<{ invite: Invite; app: string }> {
  const text = join.trim();
  if (!/^https?:\/\//i.test(text)) {
    // Decoded first, so a damaged token says so rather than asking for a link.
    await decodeInvite(text);
    throw new NativePeerError(
      'native_peer_no_app',
      'give --join the whole invite link (http://…/#join=…), not the bare token: a native peer reads its layers from the app the link names',
    );
  }
  const request = readJoinLink(text);
  if (!request)
    throw new NativePeerError('native_peer_no_app', `the link ${text} has no #join=… part: copy the whole invite line npm start printed (invite: …)`);
  return { invite: await decodeInvite(request.token), app: new URL(text).origin };
}

export async function startNativePeer(o: NativePeerOptions): Promise<NativePeer> {
  const { invite, app } = await readInvite(o.join);
  const log = o.log ?? (() => {});
  const modelsUrl = new URL('/models/', app).href;
  const dir = join(o.cacheDir, new URL(app).host.replace(/[^A-Za-z0-9.-]/g, '_'));
  const files = new Map<string, Promise<{ file: ModelFile; close(): Promise<void> }>>();
  const model = async (id: string) => {
    let opened = files.get(id);
    if (!opened) {
      files.set(id, (opened = fetchModel(new URL(`${encodeURIComponent(id)}.gguf`, modelsUrl).href, dir, o, log)));
      opened.catch(() => files.delete(id));
    }
    return (await opened).file;
  };
  const closeFiles = async () => {
    for (const opened of files.values()) await opened.then((f) => f.close()).catch(() => {});
  };
  const ip = isIP(o.host) !== 0 ? o.host : (await lookup(o.host)).address;
  const node = new PeerNode({
    identity: await createIdentity(),
    invite,
    role: 'server',
    backend: 'wasm',
    memoryBudgetBytes: o.budgetBytes > 0 ? o.budgetBytes : Math.floor(totalmem() / 2),
    openModel: model,
    compute: await stageCompute(o, log),
    webrtc: false,
    transports: [quicTransport(), ...(o.webTransportPort === undefined ? [] : [webTransportListener({ hosts: [ip] })])],
    listen: [quicListenAddress(ip, o.quicPort), ...(o.webTransportPort === undefined ? [] : [webTransportListenAddress(ip, o.webTransportPort)])],
    log,
    onChange: planLogger(() => node, log),
  });
  const stop = async () => {
    await node.stop();
    await closeFiles();
  };
  try {
    await node.start();
  } catch (error) {
    await stop().catch(() => {});
    throw webTransportPortError(error) ?? quicPortError(error, o.quicPort) ?? error;
  }
  const joined = await headLinked(node, o.joinTimeoutMs ?? 30_000);
  if (!joined) {
    await stop();
    throw new NativePeerError(
      'native_peer_head_unreachable',
      `the mesh's head did not answer at ${invite.bootstrap.join(' or ')} within ${Math.round((o.joinTimeoutMs ?? 30_000) / 1000)} s: is its npm start running, and is this machine allowed to reach it?`,
    );
  }
  const snapshot = node.snapshot();
  return { node, peerId: snapshot.peerId, meshId: snapshot.meshId, modelsUrl, stop };
}

/** Downloaded once (a later start sends only a HEAD, model-download.ts), then read by range from the file. */
async function fetchModel(url: string, dir: string, o: NativePeerOptions, log: (line: string) => void) {
  const started = Date.now();
  const got = await downloadModel(url, { dir, log, ...o.download });
  log(`${got.fetched > 0 ? `downloaded ${got.fetched} bytes of` : 'using the cached'} ${url} (${got.path}, ${Date.now() - started} ms)`);
  const source = await fileSource(got.path);
  try {
    return { file: await openModel(source), close: () => source.close() };
  } catch (error) {
    await source.close();
    throw error;
  }
}

/** One set of kernels for every stage it runs: WASM threads over worker_threads, the reference kernels where WASM is missing. */
async function stageCompute(o: NativePeerOptions, log: (line: string) => void): Promise<ComputeOptions> {
  if (o.backend === 'ref') return computeFor('ref');
  const threads = o.threads ?? Math.min(8, availableParallelism());
  try {
    const compute = await computeFor('cpu', { threads });
    // Fewer than asked where the threads variant is missing (no SharedArrayBuffer).
    const running = (compute.kernels as { readonly threads?: number }).threads ?? 1;
    log(`stages run on the WASM kernels, ${running} thread${running === 1 ? '' : 's'}`);
    return compute;
  } catch (error) {
    log(`the WASM kernels did not load (${(error as Error).message}); running stages on the slower reference kernels`);
    return computeFor('ref');
  }
}

/** Resolves true once the head (the invite's bootstrap) and this peer proved membership to each other. */
async function headLinked(node: PeerNode, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (node.snapshot().peers.some((p) => p.companion && p.member)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

/** Logs each new plan of the head's as it reaches this peer: epoch, model and who runs which layers. */
function planLogger(node: () => PeerNode | undefined, log: (line: string) => void): () => void {
  let last = '';
  return () => {
    const plan = node()?.snapshot().plan;
    if (!plan) return;
    const key = `${plan.model}|${plan.epoch}`;
    if (key === last) return;
    last = key;
    const stages = plan.stages.map((s) => `${s.peerId.slice(-8)} ${s.layers.start}-${s.layers.end - 1}`).join(', ');
    log(`pipeline: plan ${plan.epoch} for ${plan.model} (${plan.layerCount} layers): ${stages || 'no stages'}`);
  };
}
