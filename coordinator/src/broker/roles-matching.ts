/**
 * Labelling seats with roles: every seat belongs to a worker and a role class; it must get one role of its
 * class that the worker may take, with every role's load within [min, max]. This is a bipartite
 * b-matching, solved with augmenting paths:
 * - `place` adds a seat, moving already-labelled seats along a path of roles when the direct roles are full
 *   (fails exactly when no labelling within the maxima exists);
 * - `fixMinimums` then moves seats along paths from roles above their minimum into roles below it (fails
 *   exactly when no labelling meets the minimums: the roles reachable from a short role are then all at or
 *   below their minimum and no other seat may enter them — Hall's condition).
 */

export interface MatchingProblem {
  roleMin: ArrayLike<number>;
  roleMax: ArrayLike<number>;
  /** Roles a seat of (worker w, class k) may take. */
  eligible: (w: number, k: number) => readonly number[];
}

export class RoleMatching {
  readonly seatW: number[] = [];
  readonly seatK: number[] = [];
  readonly seatR: number[] = [];
  readonly load: Int32Array;
  private readonly prevRole: Int32Array;
  private readonly viaSeat: Int32Array;
  private readonly queue: Int32Array;

  constructor(
    private readonly p: MatchingProblem,
    roles: number,
  ) {
    this.load = new Int32Array(roles);
    this.prevRole = new Int32Array(roles);
    this.viaSeat = new Int32Array(roles);
    this.queue = new Int32Array(roles);
  }

  get size(): number {
    return this.seatW.length;
  }

  /** Adds a seat of worker w, class k; returns false (and changes nothing) when it cannot be labelled. */
  place(w: number, k: number): boolean {
    const start = this.p.eligible(w, k);
    const { prevRole, viaSeat, queue, load } = this;
    prevRole.fill(-2);
    let head = 0;
    let tail = 0;
    for (const r of start) {
      if (prevRole[r] !== -2) continue;
      prevRole[r] = -1;
      queue[tail++] = r;
    }
    while (head < tail) {
      const r = queue[head++] as number;
      if ((load[r] as number) < (this.p.roleMax[r] as number)) {
        // Shift seats back along the path, then label the new seat.
        let cur = r;
        while ((prevRole[cur] as number) >= 0) {
          const s = viaSeat[cur] as number;
          this.seatR[s] = cur;
          cur = prevRole[cur] as number;
        }
        load[r] = (load[r] as number) + 1;
        this.seatW.push(w);
        this.seatK.push(k);
        this.seatR.push(cur);
        return true;
      }
      // Role r is full: can one of its seats move elsewhere?
      for (let s = 0; s < this.seatR.length; s++) {
        if (this.seatR[s] !== r) continue;
        for (const r2 of this.p.eligible(this.seatW[s] as number, this.seatK[s] as number)) {
          if (prevRole[r2] !== -2) continue;
          prevRole[r2] = r;
          viaSeat[r2] = s;
          queue[tail++] = r2;
        }
      }
    }
    return false;
  }

  /** Removes the most recently placed seat (the labelling of the others stays valid). */
  pop(): void {
    const r = this.seatR.pop();
    this.seatW.pop();
    this.seatK.pop();
    if (r !== undefined) this.load[r] = (this.load[r] as number) - 1;
  }

  /** Moves seats until every role meets its minimum; false when impossible. */
  fixMinimums(): boolean {
    const { prevRole, viaSeat, queue, load } = this;
    const roles = load.length;
    for (let d = 0; d < roles; d++) {
      while ((load[d] as number) < (this.p.roleMin[d] as number)) {
        // Search backwards from d: roles whose seats could move into the reached set.
        prevRole.fill(-2);
        prevRole[d] = -1;
        let head = 0;
        let tail = 0;
        queue[tail++] = d;
        let found = -1;
        while (head < tail && found < 0) {
          const target = queue[head++] as number;
          for (let s = 0; s < this.seatR.length && found < 0; s++) {
            const r = this.seatR[s] as number;
            if (prevRole[r] !== -2) continue;
            if (!this.p.eligible(this.seatW[s] as number, this.seatK[s] as number).includes(target)) continue;
            prevRole[r] = target;
            viaSeat[r] = s;
            if ((load[r] as number) > (this.p.roleMin[r] as number)) found = r;
            else queue[tail++] = r;
          }
        }
        if (found < 0) return false;
        // The seat viaSeat[found] leaves `found` for prevRole[found], and so on down to d.
        load[found] = (load[found] as number) - 1;
        let cur = found;
        while (cur !== d) {
          const s = viaSeat[cur] as number;
          const next = prevRole[cur] as number;
          this.seatR[s] = next;
          cur = next;
        }
        load[d] = (load[d] as number) + 1;
      }
    }
    return true;
  }

  /** Copy of the labelling (for trying `fixMinimums` without disturbing the search). */
  clone(): RoleMatching {
    const c = new RoleMatching(this.p, this.load.length);
    c.seatW.push(...this.seatW);
    c.seatK.push(...this.seatK);
    c.seatR.push(...this.seatR);
    c.load.set(this.load);
    return c;
  }
}
