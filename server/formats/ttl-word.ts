/**
 * The word for Output.ttl_policy TTL_POLICY_DECREMENT where a TTL is written as a number or a word:
 * the config file's `ttl: "decrement"` and mcrctl's `--ttl decrement`.
 */
export const TTL_DECREMENT = 'decrement';
