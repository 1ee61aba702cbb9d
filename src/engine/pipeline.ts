// A whole model run as head → stages → tail in one process, handing hidden states from stage to
// stage exactly as peers would. With one range it is the unsplit model.
import { EngineError } from './errors.ts';
import { openHead, type Head } from './head.ts';
import type { ComputeOptions, ModelFile } from './model.ts';
import { openStage, type SessionOptions, type Stage, type StageSession } from './stage.ts';
import { openTail, type Tail } from './tail.ts';

export type LayerRange = readonly [first: number, end: number];

/** Parses "0:4,4:8" into ranges and checks they cover layers 0..nLayer in order without gaps. */
export function parseSplit(spec: string, nLayer: number): LayerRange[] {
  const ranges = spec.split(',').map((part) => {
    const m = /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(part);
    if (!m) throw new EngineError('engine_bad_range', `split "${spec}" is not a list of half-open layer ranges like 0:4,4:${nLayer}`);
    return [Number(m[1]), Number(m[2])] as const;
  });
  checkRanges(ranges, nLayer);
  return ranges;
}

export function checkRanges(ranges: readonly LayerRange[], nLayer: number): void {
  let next = 0;
  for (const [a, b] of ranges) {
    if (a !== next || b <= a) {
      throw new EngineError(
        'engine_bad_range',
        `layer ranges ${ranges.map(([x, y]) => `${x}:${y}`).join(',')} must cover 0:${nLayer} in order, each non-empty, without gaps or overlaps`,
      );
    }
    next = b;
  }
  if (next !== nLayer) throw new EngineError('engine_bad_range', `layer ranges end at ${next}, but the model has ${nLayer} layers`);
}

export interface PipelineSession {
  readonly length: number;
  /** Runs token ids at the next positions; returns their logits, [ids.length][nVocab]. */
  forward(ids: ArrayLike<number>): Promise<Float32Array>;
  truncate(length: number): void;
  free(): void;
}

export interface Pipeline {
  readonly head: Head;
  readonly stages: readonly Stage[];
  readonly tail: Tail;
  createSession(opts?: SessionOptions): PipelineSession;
}

export async function openPipeline(model: ModelFile, ranges: readonly LayerRange[] = [[0, model.config.nLayer]], opts?: ComputeOptions): Promise<Pipeline> {
  checkRanges(ranges, model.config.nLayer);
  const head = await openHead(model, opts);
  const stages: Stage[] = [];
  for (const [a, b] of ranges) stages.push(await openStage(model, a, b, opts));
  const tail = await openTail(model, opts);
  return {
    head,
    stages,
    tail,
    createSession(sopts) {
      const sessions: StageSession[] = stages.map((s) => s.createSession(sopts));
      return {
        get length() {
          return sessions[0].length;
        },
        async forward(ids) {
          let hidden = await head.embed(ids);
          for (const s of sessions) hidden = await s.extend(hidden, ids.length);
          return tail.logits(hidden, ids.length);
        },
        truncate(length) {
          for (const s of sessions) s.truncate(length);
        },
        free() {
          for (const s of sessions) s.free();
        },
      };
    },
  };
}
