/**
 * Runs `work` while no other holder of the same lock runs, in this process or any other: how the
 * store's firewall lock reaches the backends, which know nothing of the store.
 */
export type Exclusive = <T>(work: () => Promise<T>) => Promise<T>;
