// The first message on an activation stream (ACTIVATION_PROTOCOL): which model and layer range
// the head wants run, under which plan epoch. The stage refuses a stream for layers it does not
// hold, so a head working from a stale plan fails fast instead of computing the wrong layers.
// JSON, length-prefixed like the hidden-state frames that follow it.
//
// Chain mode (chain-route.ts) adds `chain`: a token naming the inference session on every stage,
// whether this stream feeds frames in (`feed`: the head's stream to the first stage, or the previous
// stage's forward stream) or is the head's control stream (status probes, and the last stage's
// replies), and the stages after this one, to which this stage forwards its output.
import { MODEL_ID_RULE, PEER_ID_RULE, bool, checked, field, list, num, object, str, type Checked } from '../../protocol/mesh-checks.ts';
import { MAX_LAYERS, readLayerRange, type LayerRange } from '../../protocol/mesh-plan.ts';
import { fromUtf8, utf8 } from '../bytes.ts';

export interface ChainHop {
  readonly peerId: string;
  readonly layers: LayerRange;
}

export interface ChainHello {
  /** 32 lowercase hex characters, the same on every stage of one inference session. */
  readonly token: string;
  /** True: hidden-state frames come in on this stream. False: the head's control stream. */
  readonly feed: boolean;
  /** The stages after this one, in order (empty on the last stage). */
  readonly next: readonly ChainHop[];
}

export interface ActivationHello {
  readonly model: string;
  readonly layers: LayerRange;
  readonly planEpoch: number;
  readonly chain?: ChainHello;
}

export const MAX_HELLO_BYTES = 8 * 1024;
export const MAX_CHAIN_HOPS = 64;
const TOKEN_RULE = { max: 32, min: 32, pattern: /^[0-9a-f]{32}$/, shape: '32 lowercase hex characters' };

export function encodeHello(hello: ActivationHello): Uint8Array {
  return utf8(JSON.stringify(hello));
}

export function decodeHello(bytes: Uint8Array): Checked<ActivationHello> {
  return checked(() => {
    const text = bytes.length <= MAX_HELLO_BYTES ? fromUtf8(bytes) : undefined;
    const o = object(text === undefined ? undefined : JSON.parse(text), 'hello');
    const hello = {
      model: str(o, 'model', 'hello', MODEL_ID_RULE),
      layers: readLayerRange(field(o, 'layers'), 'hello.layers', MAX_LAYERS),
      planEpoch: num(o, 'planEpoch', 'hello', { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true }),
    };
    if (o.chain === undefined) return hello;
    const c = object(o.chain, 'hello.chain');
    const next = list(c, 'next', 'hello.chain', MAX_CHAIN_HOPS, (v, path) => {
      const h = object(v, path);
      return { peerId: str(h, 'peerId', path, PEER_ID_RULE), layers: readLayerRange(field(h, 'layers'), `${path}.layers`, MAX_LAYERS) };
    });
    return { ...hello, chain: { token: str(c, 'token', 'hello.chain', TOKEN_RULE), feed: bool(c, 'feed', 'hello.chain'), next } };
  });
}
