/** The only source of "now" in the core: epoch milliseconds. Adapters pass `Date.now`; tests pass a fixed clock. */
export type Clock = () => number;
