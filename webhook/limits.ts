// Bounds of the webhook's flags (and its V8 flags) that other places must agree with. The chart's
// values.schema.json repeats them (JSON Schema cannot import), and a unit test
// (packaging/chart.test.ts) fails when the two differ: this file is their one home.

/**
 * --timeout-seconds: the apiserver caps a webhook's timeoutSeconds at 30; below 2 no
 * approval hold fits (holds wait timeoutSeconds - 2 at most).
 */
export const TIMEOUT_SECONDS = { min: 2, max: 30 } as const;

/**
 * --drain-seconds: how long a stopping webhook waits for the apiserver to close its
 * keep-alive connections (it drops idle ones after 90 s: webhook/drain.ts).
 */
export const DRAIN_SECONDS = { min: 0, max: 300 } as const;

/**
 * V8 flags the webhook runs with, wherever it runs (the chart's command, the test and bench
 * harness; packaging/chart.test.ts holds them equal). --liftoff-only: the PGlite audit store
 * is PostgreSQL in WASM, and V8 otherwise recompiles its hot functions with TurboFan in the
 * background: measured (node 20, existing PGlite directory) 252 -> 188 MB RSS idle, 269 ->
 * 221 MB under agent load, and no more CPU per insert once warm. It touches WASM only, so a
 * webhook on PostgreSQL (no WASM) runs as before. The operator's flags (a 1 MB semi-space,
 * --optimize-for-size) are not taken: they cut the webhook's RSS by ~50 MB but cost 25-40 %
 * more CPU per admission review (bench/webhook-bench.ts, BENCH_WEBHOOK_NODE_FLAGS).
 */
export const WEBHOOK_NODE_FLAGS: readonly string[] = ['--liftoff-only'];
