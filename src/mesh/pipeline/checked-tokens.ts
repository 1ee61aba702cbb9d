// The token stream of a mesh answer whose stages are checked (stage-check.ts). Tokens already sent
// cannot be taken back, so the two kinds of answer differ:
// - not streamed: the whole answer is held until its last rows are checked; a stage found off is
//   quarantined (mesh-session.ts) and the answer computed again from the prompt on a plan without it,
//   so what is returned is what an honest plan (one machine) gives;
// - streamed: tokens go out as they come; the last one (end of generation, or max tokens) only once
//   every row is checked; a stage found off ends the stream with an error saying so, never quietly.
import type { GenerateRequest, PositionLogprobs } from '../../provider/provider.ts';
import type { LayerPlan } from '../../protocol/mesh-plan.ts';
import type { MeshSession } from './mesh-session.ts';
import { PipelineError, StageCheckFailedError } from './pipeline-errors.ts';

export interface CheckedTokensOptions {
  readonly request: GenerateRequest;
  readonly plan: LayerPlan;
  /** A ready plan after a stage was quarantined, 'local' for the head's own layers, undefined: none came in time. */
  waitForPlan(): Promise<LayerPlan | 'local' | undefined>;
  open(plan: LayerPlan | 'local'): MeshSession;
  run(session: MeshSession, request: GenerateRequest): AsyncIterable<number>;
  /** End of generation: the API reads no further after it. */
  isEog(token: number): boolean;
  /** The answer is computed again on `plan` because of `failed`. */
  onRedo(plan: LayerPlan | 'local', failed: StageCheckFailedError): void;
  /** The error the caller sees (in the API's terms). */
  failed(error: unknown): unknown;
}

/** Answers computed again at most this many times (each time a stage was caught and quarantined). */
export const MAX_REDOS = 3;

export async function* checkedTokens(o: CheckedTokensOptions): AsyncGenerator<number> {
  let plan: LayerPlan | 'local' | undefined = o.plan;
  for (let redo = 0; ; redo++) {
    if (!plan) throw o.failed(new PipelineError('pipeline_no_route', 'no ready plan without the quarantined stage; add server peers'));
    const session = o.open(plan);
    try {
      if (o.request.stream) {
        let n = 0;
        for await (const token of o.run(session, o.request)) {
          // The API stops reading after this one: check everything before it goes out.
          if (++n >= o.request.maxTokens || o.isEog(token)) await session.verify();
          yield token;
        }
        await session.verify();
        return;
      }
      const tokens: number[] = [];
      const steps: PositionLogprobs[] = [];
      const lp = o.request.logprobs;
      const request: GenerateRequest = lp ? { ...o.request, logprobs: { top: lp.top, onToken: (s) => steps.push(s) } } : o.request;
      for await (const token of o.run(session, request)) tokens.push(token);
      await session.verify();
      for (let i = 0; i < tokens.length; i++) {
        if (lp) lp.onToken(steps[i]);
        yield tokens[i];
      }
      return;
    } catch (error) {
      if (!(error instanceof StageCheckFailedError) || o.request.stream || redo >= MAX_REDOS) throw o.failed(error);
      o.request.signal.throwIfAborted();
      plan = await o.waitForPlan();
      if (plan) o.onRedo(plan, error);
    } finally {
      session.free();
    }
  }
}
