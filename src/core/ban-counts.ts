/** How many bans of one jail and source. */
export interface JailSourceCount {
  readonly jail: string;
  readonly source: string;
  readonly count: number;
}

/** Active bans now, and what happened to bans since counting started (the store keeps them; metrics shows them). */
export interface BanCounts {
  readonly active: readonly JailSourceCount[];
  /** New active bans (an extension is none). */
  readonly banned: readonly JailSourceCount[];
  /** Active bans lifted (unban, a fleet's lift). */
  readonly lifted: readonly JailSourceCount[];
  /** Active bans that reached their expiry. */
  readonly expired: readonly JailSourceCount[];
}
