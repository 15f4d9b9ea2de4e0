// Bounds of the webhook's flags that other places must agree with. The chart's
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
