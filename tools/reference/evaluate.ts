// The reference computation itself: one llama.cpp context, the prompt teacher-forced with raw logits
// at every position, then a separate greedy pass the way a generation runs (logits at the end only).
import type { ControlledEvaluateInputItem, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import { ReferenceHarnessError } from './errors.ts';
import { denseLogits, logSumExp, topKLogprobs } from './log-softmax.ts';
import type { GreedyStep, KvCacheType, ReferenceResult, TokenLogprob } from './types.ts';

export interface EvaluateSettings {
  readonly topK: number;
  readonly greedySteps: number;
  readonly contextSize?: number;
  readonly kvCacheType: KvCacheType;
  readonly parseSpecial: boolean;
  readonly threads: number;
}

/** Tokenizes as llama_tokenize(add_special = true) does: BOS/EOS by the model's own flags. */
export function tokenizePrompt(model: LlamaModel, prompt: string, parseSpecial: boolean): number[] {
  const tokens: number[] = [...model.tokenize(prompt, parseSpecial)];
  if (model.tokens.shouldPrependBosToken && model.tokens.bos !== null) tokens.unshift(model.tokens.bos);
  if (model.tokens.shouldAppendEosToken && model.tokens.eos !== null) tokens.push(model.tokens.eos);
  return tokens;
}

interface NextToken {
  logits: Float64Array;
  sampled: number | null | undefined;
}

const wantNext = { generateNext: { logits: true, token: true } };

/** A prompt token, asking llama.cpp for the raw logits that follow it. */
const withLogits = (t: number): ControlledEvaluateInputItem => [t as Token, wantNext];

function readNext(out: { next: { logits?: Map<Token, number>; token?: Token | null } } | undefined, nVocab: number | undefined): NextToken {
  const map = out?.next.logits;
  if (!map) throw new ReferenceHarnessError('reference_inconsistent', 'llama.cpp returned no logits for a position that asked for them');
  const n = nVocab ?? map.size;
  if (map.size !== n) throw new ReferenceHarnessError('reference_inconsistent', `llama.cpp returned ${map.size} logits, expected the whole vocabulary (${n})`);
  const logits = denseLogits(map, n);
  if (logits.some((x) => !Number.isFinite(x))) {
    throw new ReferenceHarnessError(
      'reference_inconsistent',
      'llama.cpp produced a non-finite logit (or a gap in the vocabulary): the model weights are broken',
    );
  }
  return { logits, sampled: out.next.token };
}

function greedyStep(next: NextToken, topK: number): GreedyStep {
  const top = topKLogprobs(next.logits, Math.max(topK, 2));
  // The addon ran llama.cpp's greedy sampler on these same logits: disagreement means the logits are not raw.
  if (next.sampled !== undefined && next.sampled !== null && next.sampled !== top[0].id && next.logits[next.sampled] !== next.logits[top[0].id]) {
    throw new ReferenceHarnessError('reference_inconsistent', `llama.cpp's greedy sampler chose ${next.sampled}, the logits say ${top[0].id}`);
  }
  return { token: top[0].id, top: top.slice(0, topK), margin: top.length > 1 ? top[0].logprob - top[1].logprob : Infinity };
}

export async function evaluateReference(model: LlamaModel, prompt: string, s: EvaluateSettings, nodeLlamaCpp: string): Promise<ReferenceResult> {
  const promptTokens = tokenizePrompt(model, prompt, s.parseSpecial);
  if (promptTokens.length === 0)
    throw new ReferenceHarnessError('reference_bad_options', 'the prompt tokenizes to nothing (and the model adds no BOS): give a non-empty prompt');
  const needed = promptTokens.length + s.greedySteps;
  if (s.contextSize !== undefined && needed > s.contextSize) {
    throw new ReferenceHarnessError(
      'reference_context_overflow',
      `prompt (${promptTokens.length} tokens) plus ${s.greedySteps} greedy steps exceed the context size ${s.contextSize}: raise contextSize or shorten the prompt`,
    );
  }
  const context = await model.createContext({
    contextSize: s.contextSize ?? Math.max(needed, 16),
    sequences: 1,
    threads: { ideal: s.threads, min: s.threads },
    flashAttention: false,
    experimentalKvCacheKeyType: s.kvCacheType,
    experimentalKvCacheValueType: s.kvCacheType,
  });
  try {
    const sequence = context.getSequence();
    const forced = await sequence.controlledEvaluate(promptTokens.map(withLogits));
    const first = readNext(forced[0], undefined);
    const nVocab = first.logits.length;
    const positions: TokenLogprob[][] = [];
    const promptLogprobs: number[] = [];
    forced.forEach((out, i) => {
      const logits = i === 0 ? first.logits : readNext(out, nVocab).logits;
      positions.push(topKLogprobs(logits, s.topK));
      if (i + 1 < promptTokens.length) promptLogprobs.push(logits[promptTokens[i + 1]] - logSumExp(logits));
    });

    const greedy = await greedyContinuation(model, sequence, promptTokens, s, nVocab);
    return {
      promptTokens,
      positions,
      promptLogprobs,
      greedy,
      settings: {
        topK: s.topK,
        greedySteps: s.greedySteps,
        contextSize: context.contextSize,
        kvCacheType: s.kvCacheType,
        parseSpecial: s.parseSpecial,
        threads: s.threads,
        nVocab,
        nodeLlamaCpp,
      },
    };
  } finally {
    await context.dispose();
  }
}

async function greedyContinuation(
  model: LlamaModel,
  sequence: LlamaContextSequence,
  promptTokens: number[],
  s: EvaluateSettings,
  nVocab: number,
): Promise<GreedyStep[]> {
  const greedy: GreedyStep[] = [];
  if (s.greedySteps === 0) return greedy;
  await sequence.clearHistory();
  const input = promptTokens.map((t, i) => (i === promptTokens.length - 1 ? withLogits(t) : (t as Token)));
  let out = (await sequence.controlledEvaluate(input)).at(-1);
  for (;;) {
    const step = greedyStep(readNext(out, nVocab), s.topK);
    greedy.push(step);
    if (greedy.length === s.greedySteps || model.isEogToken(step.token as Token)) break;
    out = (await sequence.controlledEvaluate([withLogits(step.token)]))[0];
  }
  return greedy;
}
