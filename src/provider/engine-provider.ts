// A ModelProvider over local engines (src/engine): what the companion serves with no tab open, and
// what a worker engine can use in the browser. Each model is one Engine; its layer-range stages are
// reported as served by this peer. Recent sessions are kept (session-cache.ts) so a conversation's
// next turn evaluates only its new tokens.
import type { Engine, InferenceSession } from '../engine/engine.ts';
import type { ModelConfig } from '../engine/config.ts';
import type { GgufHeader } from '../gguf/reader.ts';
import type { Tokenizer } from '../tokenizer/index.ts';
import { rowLogprobs } from '../engine/generate.ts';
import { resumeSession, SessionCache, type SessionCacheOptions } from './session-cache.ts';
import { macrotask, sessionTokens } from './session-tokens.ts';
import { speculativeMode, type SpeculativeConfig, type SpeculativeMode } from './speculative-mode.ts';
import { emptySpeculativeStats } from '../engine/drafter.ts';
import { chatTemplateFor } from '../tokenizer/index.ts';
import type {
  GenerateRequest,
  Generation,
  ModelDescriptor,
  ModelProvider,
  ModelText,
  PositionLogprobs,
  PromptLogprobs,
  PromptLogprobsRequest,
  ServedBy,
} from './provider.ts';
import { ApiError } from '../protocol/api-error.ts';

/**
 * What the provider needs of a loaded model: an Engine in this context has it, and so has a model in
 * the inference worker seen from the page (worker-provider.ts: sessions there, tokenizer here).
 */
export interface ProviderEngine {
  readonly config: Pick<ModelConfig, 'nLayer' | 'nHeadKv' | 'headDim' | 'nVocab'>;
  readonly maxPositions: number;
  readonly ranges: readonly (readonly [number, number])[];
  readonly tokenizer: Tokenizer;
  /** For the chat template. */
  readonly model: { readonly header: Pick<GgufHeader, 'metadata'> };
  createSession(): InferenceSession;
}

export interface ProviderModel {
  /** The name clients use in `model`. */
  id: string;
  engine: ProviderEngine;
  /** This peer's name in x-mesh-served-by. Default "local". */
  peer?: string;
  ownedBy?: string;
  created?: number;
}

/** A model run by an Engine in this context (the companion, a test, a tab serving the companion). */
export interface EngineModel extends ProviderModel {
  engine: Engine;
}

/** Prompt tokens seen and evaluated since the provider started: what the KV reuse saved. */
export interface PrefillStats {
  promptTokens: number;
  /** Prompt tokens that ran through the model (the rest came from a kept session's KV cache). */
  evaluated: number;
  reused: number;
}

/** Prompt rows scored per extend() when scoring a prompt: bounds the logits held (rows × vocabulary floats). */
const SCORE_BATCH = 64;

/**
 * Teacher-forced log-probs of a prompt on an empty session (a local one, or a mesh session: any
 * provider that runs the model's tail can answer promptLogprobs with this). Leaves the session
 * holding all prompt tokens but the last.
 */
export async function scorePrompt(session: InferenceSession, nVocab: number, request: PromptLogprobsRequest): Promise<PositionLogprobs[]> {
  const { tokens, top } = request;
  const out: PositionLogprobs[] = [];
  // Rows come in batches; row j of a batch starting at `start` predicts tokens[start + j + 1].
  for (let start = 0; start < tokens.length - 1; start += SCORE_BATCH) {
    const batch = tokens.slice(start, Math.min(start + SCORE_BATCH, tokens.length - 1));
    const logits = await session.extend(batch, { logits: 'all', signal: request.signal });
    for (let j = 0; j < batch.length; j++) {
      const token = tokens[start + j + 1];
      const lp = rowLogprobs(logits, j * nVocab, nVocab, token, top);
      out.push({ token, logprob: lp.logprob, top: lp.top });
    }
    await macrotask(); // let a client's disconnect (the signal) and other streams through
  }
  return out;
}

export interface EngineProviderOptions {
  /** Sessions kept per model for prefix reuse; `{ maxSessions: 0 }` turns it off. */
  sessions?: SessionCacheOptions;
  /**
   * Decode every model's generations speculatively (greedy output unchanged, sampling keeps the
   * model's distribution); responses then carry usage.speculative. A draft model applies to every
   * model served and must share each one's vocabulary.
   */
  speculative?: SpeculativeConfig;
}

export class EngineProvider implements ModelProvider {
  private readonly models = new Map<string, ProviderModel>();
  private readonly texts = new Map<string, ModelText>();
  private readonly caches = new Map<string, SessionCache>();
  private readonly speculative = new Map<string, SpeculativeMode>();
  readonly prefill: PrefillStats = { promptTokens: 0, evaluated: 0, reused: 0 };

  constructor(models: readonly ProviderModel[], options: EngineProviderOptions = {}) {
    for (const m of models) {
      this.models.set(m.id, m);
      const c = m.engine.config;
      // f32 keys and values for every layer (f16 caches still store f32 here)
      const bytesPerToken = c.nLayer * 2 * c.nHeadKv * c.headDim * 4;
      this.caches.set(m.id, new SessionCache(() => m.engine.createSession(), bytesPerToken, options.sessions));
      if (options.speculative) this.speculative.set(m.id, speculativeMode(options.speculative, c.nVocab, m.id));
    }
  }

  listModels(): ModelDescriptor[] {
    return [...this.models.values()].map((m) => ({
      id: m.id,
      ownedBy: m.ownedBy ?? 'local',
      contextLength: m.engine.maxPositions,
      created: m.created ?? 0,
    }));
  }

  async modelText(id: string): Promise<ModelText> {
    let text = this.texts.get(id);
    if (!text) {
      const engine = this.get(id).engine;
      text = { tokenizer: engine.tokenizer, template: chatTemplateFor(engine.model.header.metadata, engine.tokenizer) };
      this.texts.set(id, text);
    }
    return text;
  }

  async generate(request: GenerateRequest): Promise<Generation> {
    const m = this.get(request.model);
    const cache = this.caches.get(m.id)!;
    const stats = this.prefill;
    // Taken out of the cache: no other request can use this session until it is put back.
    const { session, reused } = cache.take(request.promptTokens);
    stats.promptTokens += request.promptTokens.length;
    stats.reused += reused;
    const view = resumeSession(session, reused, (n) => {
      stats.evaluated += n;
    });
    const mode = this.speculative.get(m.id);
    const speculative = mode ? { mode, stats: emptySpeculativeStats() } : undefined;
    async function* tokens(): AsyncGenerator<number> {
      let broken = false;
      try {
        yield* sessionTokens(view, m.engine.tokenizer, request, speculative);
      } catch (e) {
        // Aborts are checked between batches, and return() (stop sequence, client gone) lands between
        // steps: the session then still holds exactly session.tokens. Anything else may leave it half-run.
        broken = !(e instanceof DOMException && e.name === 'AbortError');
        throw e;
      } finally {
        if (broken) session.free();
        else cache.keep(session);
      }
    }
    return {
      servedBy: this.servedBy(m),
      tokens: tokens(),
      cachedPromptTokens: reused,
      ...(speculative ? { speculative: speculative.stats } : {}),
    };
  }

  supportsLogprobs(model: string): boolean {
    return this.models.has(model);
  }

  async promptLogprobs(request: PromptLogprobsRequest): Promise<PromptLogprobs> {
    const m = this.get(request.model);
    const session = m.engine.createSession();
    let scored = false;
    try {
      const positions = await scorePrompt(session, m.engine.config.nVocab, request);
      scored = true;
      return { servedBy: this.servedBy(m), positions };
    } finally {
      // kept for reuse: a generation after the echo (max_tokens > 0) then evaluates only the last token
      if (scored && session.length > 0) this.caches.get(m.id)!.keep(session);
      else session.free();
    }
  }

  private servedBy(m: ProviderModel): ServedBy[] {
    return m.engine.ranges.map(([first, end]) => ({ peer: m.peer ?? 'local', layers: [first, end] as [number, number] }));
  }

  private get(id: string): ProviderModel {
    const m = this.models.get(id);
    if (!m) throw new ApiError('not_found', `the model "${id}" is not loaded here`, { param: 'model', code: 'model_not_found' });
    return m;
  }
}
