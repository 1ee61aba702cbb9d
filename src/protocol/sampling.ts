// The sampling settings one generation runs with, as the engine's sampler takes them and the engine
// worker carries them across its message boundary. Defined here because src/protocol imports nothing
// outside itself; src/engine/sampler.ts re-exports it and gives it meaning (llama.cpp semantics).

export interface SamplingOptions {
  /** Divides the logits; 0 or less means greedy. Default 1. */
  readonly temperature?: number;
  /** Keep only the k most likely tokens; 0 (default) keeps all. */
  readonly topK?: number;
  /** Keep the most likely tokens whose probabilities sum to at least p; 1 (default) keeps all. */
  readonly topP?: number;
  /** Drop tokens less likely than minP times the most likely one; 0 (default) keeps all. */
  readonly minP?: number;
  /** Divides positive (multiplies negative) logits of tokens seen in the window; 1 (default) is off. */
  readonly repeatPenalty?: number;
  /** Subtracted once from the logit of every token seen in the window; default 0. */
  readonly presencePenalty?: number;
  /** Subtracted per occurrence in the window; default 0. */
  readonly frequencyPenalty?: number;
  /** How many recent tokens the penalties look at (llama.cpp's penalty_last_n): default 64, 0 disables, -1 all. */
  readonly penaltyLastN?: number;
  /** Same seed, same tokens (on any platform); a random seed when absent. */
  readonly seed?: number;
}
