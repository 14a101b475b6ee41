/**
 * What a reconcile run was for: the loop's own runs (at start, on schedule, at an expiry), a backend
 * the drift check found drifted, changes another process made, a reload, or anything else asked (this
 * host's addresses changed, a run queued behind one). The loop says it; metrics counts by it.
 */
export type RunKind = 'start' | 'schedule' | 'expiry' | 'drift' | 'change' | 'reload' | 'other';
