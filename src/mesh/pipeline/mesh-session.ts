// An inference session whose layers run on other peers: the head embeds the tokens, sends the
// hidden states through the plan's stages in order (each stage an activation stream with its own
// KV cache for this session) and computes the logits from what the last stage returns. The
// engine's generation loop runs on it unchanged. When a stage fails, the session takes a new route
// from the coordinator, replays every token it holds to rebuild the new stages' caches, and retries
// the batch: the logits, and so the generated text, are those of a run without the fault. A head
// that holds the layers itself (the companion) does not wait for a new plan: it replays onto its
// own stages at once and finishes the answer there, so a stage lost mid-answer costs a replay.
// Speculative verification batches (up to EXACT_ROWS tokens) go out flagged exact: each stage runs
// them in chunks its kernels sum like one-token frames, so a draft is checked in one round trip and
// greedy output is plain decoding's token for token; a rejected draft rolls the stages back when the
// next frame comes at the earlier position.
import type { Head } from '../../engine/head.ts';
import type { Stage } from '../../engine/stage.ts';
import type { ExtendOptions, InferenceSession } from '../../engine/session.ts';
import type { Tail } from '../../engine/tail.ts';
import { EngineError } from '../../engine/errors.ts';
import type { LayerPlan } from '../../protocol/mesh-plan.ts';
import type { MeshNode } from '../net/mesh-node.ts';
import type { PipelineCoordinator } from './coordinator.ts';
import { ChainUnavailableError, PipelineError, StageCheckFailedError, StageFailedError } from './pipeline-errors.ts';
import { CheckSession, type OpenAlone } from './check-session.ts';
import { QUARANTINE_MS, type StageChecker } from './stage-check.ts';
import { ChainRoute } from './chain-route.ts';
import { RemoteStage } from './remote-stage.ts';

export interface MeshSessionOptions {
  readonly node: MeshNode;
  /** Where routes come from: the head's coordinator (a fixed plan for a one-off probe, mesh-logprobs.ts). */
  readonly coordinator: Pick<PipelineCoordinator, 'waitForRoute' | 'markFailed'>;
  readonly head: Head;
  readonly tail: Tail;
  readonly nEmbd: number;
  readonly nVocab: number;
  readonly maxPositions: number;
  readonly batchSize?: number;
  /** A stage reply later than this counts as a stall. */
  readonly stageTimeoutMs?: number;
  /** How long to wait for a new ready plan after a failure. */
  readonly recoverTimeoutMs?: number;
  /** The plan the session starts on (the provider already checked it is ready). */
  readonly plan?: LayerPlan;
  /**
   * The head's own stages covering every layer, when it holds the whole model: after a stage fails
   * and no other ready plan exists, the session goes on on these instead of waiting for a replan.
   */
  readonly localStages?: readonly Stage[];
  /** The batch the head's own stages run exactly (engine/exact-batch.ts); default 1. */
  readonly localExactBatch?: number;
  /**
   * 'chain' (default): the head sends each batch to the first stage, each stage forwards to the
   * next, the last answers the head (k + 1 one-way hops for k stages); it needs direct links between
   * adjacent stages, and a session whose stages lack one runs in star mode instead. 'star': the
   * head sends each batch to every stage in turn and reads each reply (2k hops).
   */
  readonly topology?: Topology;
  readonly log?: (line: string) => void;
  /**
   * Called after each recovery, with the failed peer, the time from failure to retried batch and the
   * plan now in use (undefined: the head's own stages).
   */
  readonly onRecovered?: (info: { failed: string; ms: number; plan: LayerPlan | undefined }) => void;
  /**
   * Re-computes the stages' work on the head's own kernels (stage-check.ts): a stage that is off is
   * quarantined and extend() throws StageCheckFailedError. Absent: the stages are trusted (unchecked).
   */
  readonly checker?: StageChecker;
}

export interface MeshSession extends InferenceSession {
  /** The plan in use now (changes after a recovery; undefined once on the head's own stages). */
  readonly plan: LayerPlan | undefined;
  /** True once the session runs on the head's own stages. */
  readonly local: boolean;
  readonly recoveries: number;
  /**
   * Checks every row not checked yet (the end of an answer); throws StageCheckFailedError when a
   * stage was off. A no-op without a checker or on the head's own stages.
   */
  verify(): Promise<void>;
}

const MAX_RECOVERIES = 4;

/**
 * Batches of at most this many tokens (a pending token and up to 16 drafts, speculative.ts) are sent
 * as exact frames, and the session says its rows equal one-token runs' up to this batch.
 */
export const EXACT_ROWS = 17;

/**
 * With the head's own stages at hand, a remote batch that takes longer than this, and longer than
 * SLOW_FACTOR times the route's recent pace, is let go: the answer goes on on the head's stages. A
 * stage that hangs without closing its link (a killed laptop, a dead Wi-Fi) then costs about a
 * second, not the stall timeout; the stage is not marked failed (it may only be slow).
 */
const SLOW_FLOOR_MS = 1000;
const SLOW_FACTOR = 4;

/** The remote route fell far behind its own pace while the head could go on alone. */
class RouteSlowError extends Error {
  readonly afterMs: number;
  constructor(afterMs: number) {
    super(`no answer from the stages within ${afterMs} ms`);
    this.afterMs = afterMs;
  }
}

export type Topology = 'star' | 'chain';
/** Chain when every pair of adjacent stages has a direct link (checked per session), else star. */
export const DEFAULT_TOPOLOGY: Topology = 'chain';

/** One leg of a route: a stage (star mode) or the whole chain of stages (chain mode). */
interface Leg {
  /** `exact`: every row as a one-token batch would give it (see EXACT_ROWS). */
  extend(hidden: Float32Array, nTokens: number, position: number, exact: boolean): Promise<Float32Array>;
  close(): Promise<void>;
}

/** The head's own stages as one leg: hidden states in and out, a KV cache per stage for this session. */
function localLeg(stages: readonly Stage[], maxPositions: number, exactBatch: number): Leg {
  const sessions = stages.map((s) => s.createSession({ maxPositions }));
  return {
    async extend(hidden, nTokens, position, exact) {
      const width = hidden.length / nTokens;
      const chunk = exact ? Math.max(1, exactBatch) : nTokens;
      let h = hidden;
      for (const session of sessions) {
        if (session.length > position) session.truncate(position); // a rollback, as remote stages do on an earlier frame
        if (chunk >= nTokens) {
          h = await session.extend(h, nTokens);
          continue;
        }
        const out = new Float32Array(h.length);
        for (let at = 0; at < nTokens; at += chunk) {
          const n = Math.min(chunk, nTokens - at);
          out.set(await session.extend(h.subarray(at * width, (at + n) * width), n), at * width);
        }
        h = out;
      }
      return h;
    },
    async close() {
      for (const session of sessions) session.free();
    },
  };
}

export function createMeshSession(o: MeshSessionOptions): MeshSession {
  const held: number[] = [];
  const sessionId = crypto.getRandomValues(new Uint8Array(16));
  const batchSize = o.batchSize ?? 256;
  let plan = o.plan;
  let stages: Leg[] | undefined;
  let recoveries = 0;
  let freed = false;
  let local = false;
  /** ms per token of remote batches lately (EWMA), once one has run. */
  let pace: number | undefined;
  /** The checks of the route in use (a remote one, with a checker). */
  let check: CheckSession | undefined;

  const closeStages = () => {
    for (const s of stages ?? []) void s.close().catch(() => {});
    stages = undefined;
    check?.free();
    check = undefined;
  };

  /** What each stage of `p` runs on, as it gossips (the tolerance is wider across backends). */
  const backendsOf = (p: LayerPlan) => {
    const members = new Map(o.node.memberList().map((m) => [m.peerId, m.state]));
    return p.stages.map((s) => members.get(s.peerId)?.models.find((h) => h.model === p.model)?.backend);
  };
  const checkRoute = (p: LayerPlan, chained: boolean) => {
    if (o.checker) check = new CheckSession(o.checker, p, chained, backendsOf(p), o.maxPositions);
  };

  const connect = async (signal?: AbortSignal): Promise<Leg[]> => {
    if (local || (!plan && o.localStages)) {
      // A ready plan now is taken; none ready means the head's own stages, not a wait.
      const route = local ? undefined : await o.coordinator.waitForRoute(0, signal);
      if (!route) {
        local = true;
        return [localLeg(o.localStages!, o.maxPositions, o.localExactBatch ?? 1)];
      }
      plan = route.plan;
    }
    if (!plan) {
      const route = await o.coordinator.waitForRoute(o.recoverTimeoutMs ?? 20_000, signal);
      if (!route)
        throw new PipelineError(
          'pipeline_no_route',
          "no ready pipeline plan: not enough server peers hold the model's layers; wait for peers to join or raise their memory budgets",
        );
      plan = route.plan;
    }
    const p = plan;
    const timeoutMs = o.stageTimeoutMs ?? 5000;
    // A stage under suspicion (stage-check.ts) runs in star mode, where the head sees its own output.
    if ((o.topology ?? DEFAULT_TOPOLOGY) === 'chain' && !p.stages.some((s) => o.checker?.isSuspect(s.peerId))) {
      try {
        const chain = await ChainRoute.open({ node: o.node, plan: p, sessionId, width: o.nEmbd, timeoutMs });
        checkRoute(p, true);
        return [chain];
      } catch (error) {
        if (!(error instanceof ChainUnavailableError)) throw error;
        o.log?.(`pipeline: ${error.message}`);
      }
    }
    const opened: RemoteStage[] = [];
    try {
      for (const stage of p.stages) {
        opened.push(await RemoteStage.open({ node: o.node, stage, model: p.model, planEpoch: p.epoch, sessionId, width: o.nEmbd, timeoutMs }));
      }
    } catch (error) {
      for (const s of opened) void s.close().catch(() => {});
      throw error;
    }
    checkRoute(p, false);
    return opened;
  };

  /** Runs one batch at `position` through every stage; logits of the rows wanted. */
  const runBatch = async (route: Leg[], batch: readonly number[], position: number): Promise<Float32Array> => {
    const recording = local ? undefined : check;
    const input = await o.head.embed(batch);
    let hidden = input;
    const exact = batch.length > 1 && batch.length <= EXACT_ROWS;
    const outputs: Float32Array[] = [];
    for (const stage of route) {
      hidden = await stage.extend(hidden, batch.length, position, exact);
      outputs.push(hidden);
    }
    recording?.record({ position, nTokens: batch.length, input, outputs, ...(exact ? { exact } : {}) });
    return hidden;
  };

  /** One stage of the plan alone (star), for a chain's mismatch to be pinned on a stage. */
  const openAlone =
    (p: LayerPlan): OpenAlone =>
    async (i) => {
      const stage = await RemoteStage.open({
        node: o.node,
        stage: p.stages[i],
        model: p.model,
        planEpoch: p.epoch,
        sessionId: crypto.getRandomValues(new Uint8Array(16)),
        width: o.nEmbd,
        timeoutMs: o.stageTimeoutMs ?? 5000,
      });
      return { extend: (hidden, n, position, exact) => stage.extend(hidden, n, position, exact), close: () => stage.close() };
    };

  /** Runs the check of the route in use; a stage found off leaves the plan for the quarantine time. */
  /** The check under way beside the decoding, what it found, and the steps decoded since it began. */
  let checking: Promise<void> | undefined;
  let found: unknown;
  let lag = 0;
  /** Steps the check under way covers. */
  let inFlight = 0;

  /** Starts a check of the rows so far and goes on decoding: the head re-computes while it waits for the stages. */
  const startCheck = () => {
    const c = check;
    const p = plan;
    if (!c || !p || local || checking || found !== undefined) return;
    lag = 0;
    inFlight = c.pendingSteps;
    const run: Promise<void> = c
      .check(openAlone(p))
      .catch((error: unknown) => {
        if (c === check) found = error; // else the route was let go meanwhile
      })
      .finally(() => {
        if (checking === run) checking = undefined;
      });
    checking = run;
  };

  /** A check found a stage off: it leaves the plan for the quarantine time, and the session's route closes. */
  const surface = () => {
    if (found === undefined) return;
    const error = found;
    found = undefined;
    if (error instanceof StageCheckFailedError) {
      o.checker?.noteMismatch((error.detectSteps ?? 0) + lag);
      o.log?.(`pipeline: ${error.message}`);
      for (const peer of error.peerIds) o.coordinator.markFailed(peer, `failed a stage check: ${error.reason}`, o.checker?.quarantineMs);
      closeStages();
      plan = undefined;
    }
    throw error;
  };

  /** Waits for the check under way, then checks every row left; throws what either found. */
  const runCheck = async () => {
    await checking;
    surface();
    const c = check;
    const p = plan;
    if (!c || !p || local) return;
    lag = 0;
    await c.check(openAlone(p)).catch((error: unknown) => {
      found = error;
    });
    surface();
  };

  /** runBatch on a remote route, let go when it falls far behind its pace and the head can go on alone. */
  const runWatched = async (route: Leg[], batch: readonly number[], position: number): Promise<Float32Array> => {
    const started = performance.now();
    if (local || !o.localStages || pace === undefined) {
      const hidden = await runBatch(route, batch, position);
      if (!local) notePace(performance.now() - started, batch.length);
      return hidden;
    }
    const limit = Math.round(Math.max(SLOW_FLOOR_MS, SLOW_FACTOR * pace * batch.length));
    const work = runBatch(route, batch, position);
    work.catch(() => {}); // when it loses the race its streams are closed: that rejection is expected
    let timer: ReturnType<typeof setTimeout> | undefined;
    const slow = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RouteSlowError(limit)), limit);
    });
    try {
      const hidden = await Promise.race([work, slow]);
      notePace(performance.now() - started, batch.length);
      return hidden;
    } finally {
      clearTimeout(timer);
    }
  };

  const notePace = (ms: number, tokens: number) => {
    const perToken = ms / tokens;
    pace = pace === undefined ? perToken : 0.8 * pace + 0.2 * perToken;
  };

  /** Rebuilds the caches of a fresh route from the tokens held (prefill-sized batches, no logits). */
  const replay = async (route: Leg[], signal?: AbortSignal) => {
    for (let start = 0; start < held.length; start += batchSize) {
      signal?.throwIfAborted();
      await runBatch(route, held.slice(start, start + batchSize), start);
    }
  };

  /** Hidden states of `batch` at the end of the held tokens, recovering from stage failures. */
  const forward = async (batch: readonly number[], signal?: AbortSignal): Promise<Float32Array> => {
    let failedAt: { peer: string; at: number } | undefined;
    let failures = 0;
    for (;;) {
      try {
        if (!stages) {
          stages = await connect(signal);
          if (failedAt) await replay(stages, signal);
        }
        const hidden = await runWatched(stages, batch, held.length);
        if (failedAt) {
          recoveries++;
          o.onRecovered?.({ failed: failedAt.peer, ms: Math.round(performance.now() - failedAt.at), plan: local ? undefined : plan });
        }
        return hidden;
      } catch (error) {
        if (error instanceof RouteSlowError && !local) {
          signal?.throwIfAborted();
          o.log?.(`pipeline: ${error.message}; the head goes on on its own layers`);
          failedAt ??= { peer: 'a slow stage', at: performance.now() - error.afterMs };
          await runCheck(); // tokens were sampled from the rows not checked yet: a stage cannot stall its way out of a check
          closeStages();
          local = true; // connect() now gives the head's own stages, and the tokens held are replayed
          continue;
        }
        if (!(error instanceof StageFailedError) || local || ++failures > MAX_RECOVERIES) throw error;
        signal?.throwIfAborted();
        failedAt ??= { peer: error.peerId, at: performance.now() };
        if (error.nonFinite) {
          // Refused before use, so the answer is still right; the stage lied (or is broken): quarantined.
          o.checker?.quarantine(error.peerId, 'sent NaN or infinite hidden states', true);
          o.coordinator.markFailed(error.peerId, error.message, o.checker?.quarantineMs ?? QUARANTINE_MS);
        } else o.coordinator.markFailed(error.peerId, error.message);
        await runCheck();
        closeStages();
        plan = undefined;
      }
    }
  };

  return {
    get tokens() {
      return held;
    },
    get length() {
      return held.length;
    },
    get plan() {
      return local ? undefined : plan;
    },
    get local() {
      return local;
    },
    get recoveries() {
      return recoveries;
    },
    verify: runCheck,
    maxPositions: o.maxPositions,
    exactBatch: EXACT_ROWS,
    async extend(tokens, opts: ExtendOptions = {}) {
      if (freed) throw new EngineError('engine_session_freed', 'this inference session was freed; create a new one');
      surface();
      const want = opts.logits ?? 'all';
      if (tokens.length === 0) return new Float32Array(0);
      if (held.length + tokens.length > o.maxPositions) {
        throw new EngineError(
          'engine_context_overflow',
          `the context is full: ${held.length} tokens held, ${tokens.length} more requested, the limit is ${o.maxPositions}; shorten the prompt, lower max tokens, or start a new conversation`,
        );
      }
      const out = new Float32Array((want === 'all' ? tokens.length : want === 'last' ? 1 : 0) * o.nVocab);
      for (let start = 0; start < tokens.length; start += batchSize) {
        opts.signal?.throwIfAborted();
        const batch = tokens.slice(start, start + batchSize);
        const hidden = await forward(batch, opts.signal);
        held.push(...batch);
        if (checking) {
          // A wrong row goes unseen for at most everyTokens steps: past that, decoding waits for the check.
          if (inFlight + ++lag >= (o.checker?.everyTokens ?? 16)) {
            await checking;
            surface();
          }
        } else if (check?.due) startCheck();
        if (want === 'all') out.set(await o.tail.logits(hidden, batch.length), start * o.nVocab);
        else if (want === 'last' && start + batch.length === tokens.length) out.set(await o.tail.logits(hidden.subarray((batch.length - 1) * o.nEmbd), 1));
      }
      return out;
    },
    truncate(length) {
      if (!Number.isInteger(length) || length < 0 || length > held.length) {
        throw new EngineError('engine_bad_input', `cannot truncate a session of ${held.length} tokens to ${length}`);
      }
      // The stages roll back when the next frame arrives at this earlier position.
      held.length = length;
      check?.truncate(length);
    },
    free() {
      if (freed) return;
      freed = true;
      closeStages();
    },
  };
}
