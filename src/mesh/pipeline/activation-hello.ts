// The first message on an activation stream (ACTIVATION_PROTOCOL): which model and layer range
// the head wants run, under which plan epoch. The stage refuses a stream for layers it does not
// hold, so a head working from a stale plan fails fast instead of computing the wrong layers.
// JSON, length-prefixed like the hidden-state frames that follow it.
import { MODEL_ID_RULE, checked, field, num, object, str, type Checked } from '../../protocol/mesh-checks.ts';
import { MAX_LAYERS, readLayerRange, type LayerRange } from '../../protocol/mesh-plan.ts';
import { fromUtf8, utf8 } from '../bytes.ts';

export interface ActivationHello {
  readonly model: string;
  readonly layers: LayerRange;
  readonly planEpoch: number;
}

export const MAX_HELLO_BYTES = 1024;

export function encodeHello(hello: ActivationHello): Uint8Array {
  return utf8(JSON.stringify(hello));
}

export function decodeHello(bytes: Uint8Array): Checked<ActivationHello> {
  return checked(() => {
    const text = bytes.length <= MAX_HELLO_BYTES ? fromUtf8(bytes) : undefined;
    const o = object(text === undefined ? undefined : JSON.parse(text), 'hello');
    return {
      model: str(o, 'model', 'hello', MODEL_ID_RULE),
      layers: readLayerRange(field(o, 'layers'), 'hello.layers', MAX_LAYERS),
      planEpoch: num(o, 'planEpoch', 'hello', { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true }),
    };
  });
}
