// A member's watch on a head tab. A tab that heads a mesh (the invite names it by bare peer id) has
// no restart to wait for, unlike a companion: out of reach for HEAD_LEFT_MS after this peer was
// linked to it, it left, and the member says so (its requests fail at once with mesh_head_left, its
// stage's share is unloaded). The head coming back within or after that undoes it.

/** How long a head tab may be out of reach before its members say it left (a reload or a crash, not a blip). */
export const HEAD_LEFT_MS = 3000;

export interface HeadWatchOptions {
  /** Whether any link to the head is open now. */
  readonly linked: () => boolean;
  /** It left: unload the stage, tell the page. */
  readonly onLeft: (reason: string) => void;
  /** It is back. */
  readonly onBack: () => void;
}

export class HeadWatch {
  private readonly o: HeadWatchOptions;
  private wasLinked = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Why the head is considered gone; undefined while it is not. */
  left: string | undefined;

  constructor(options: HeadWatchOptions) {
    this.o = options;
  }

  /** Call on every change of links. */
  check(): void {
    if (this.o.linked()) {
      this.wasLinked = true;
      this.stop();
      if (this.left) {
        this.left = undefined;
        this.o.onBack();
      }
      return;
    }
    if (!this.wasLinked || this.left || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.o.linked()) return;
      this.left = `the mesh's head left (the tab that made this mesh closed or lost its link ${HEAD_LEFT_MS / 1000} s ago): this mesh serves no requests now; ask for a new invite`;
      this.o.onLeft(this.left);
    }, HEAD_LEFT_MS);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
