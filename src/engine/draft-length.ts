// How many tokens to draft next: the k that maximises expected tokens per unit of time, from what
// this generation has measured. A pass of n rows is modelled as costing a + b·n (fitted to the
// passes seen: on one machine the rows dominate, through a mesh the round trip a does), drafting
// as c per token, and each draft token as accepted with probability α (the rate so far), so a pass
// with k drafts yields (1 − α^(k+1)) / (1 − α) tokens. Until the passes seen differ enough in size to
// fit a and b, the caller's own rule stands.

/** How fast old observations fade (per pass). */
const DECAY = 0.9;

export class DraftLength {
  // acceptance: drafted positions accepted (s) and rejected (f), fading
  private s = 0;
  private f = 0;
  // pass cost fit: fading sums of weight, rows, ms, rows², rows·ms
  private w = 0;
  private sn = 0;
  private st = 0;
  private snn = 0;
  private snt = 0;
  private draftMs = 0;
  private drafted = 0;

  /** A verification pass with `drafted` draft tokens of which the first `accepted` were taken. */
  accepted(accepted: number, drafted: number): void {
    this.s = this.s * DECAY + accepted;
    this.f = this.f * DECAY + (accepted < drafted ? 1 : 0);
  }

  /** An extend() of `rows` rows took `ms`. */
  pass(rows: number, ms: number): void {
    this.w = this.w * DECAY + 1;
    this.sn = this.sn * DECAY + rows;
    this.st = this.st * DECAY + ms;
    this.snn = this.snn * DECAY + rows * rows;
    this.snt = this.snt * DECAY + rows * ms;
  }

  /** Drafting `tokens` tokens took `ms`. */
  draft(tokens: number, ms: number): void {
    this.draftMs = this.draftMs * DECAY + ms;
    this.drafted = this.drafted * DECAY + tokens;
  }

  /** The best k in 1..maxK, or undefined while the pass cost cannot be fitted yet. */
  best(maxK: number): number | undefined {
    const meanN = this.sn / this.w;
    const varN = this.snn / this.w - meanN * meanN;
    if (!(this.w >= 3 && varN >= 0.25)) return undefined;
    const b = Math.max(0, (this.snt / this.w - meanN * (this.st / this.w)) / varN);
    const a = Math.max(1e-3, this.st / this.w - b * meanN);
    const c = this.drafted > 0 ? this.draftMs / this.drafted : 0;
    const alpha = Math.min(0.99, (this.s + 0.5) / (this.s + this.f + 1));
    let best = 1;
    let bestRate = 0;
    for (let k = 1; k <= maxK; k++) {
      const tokens = (1 - alpha ** (k + 1)) / (1 - alpha);
      const rate = tokens / (a + b * (k + 1) + c * k);
      if (rate > bestRate) [best, bestRate] = [k, rate];
    }
    return best;
  }
}
