/** Versions: mcrd's own (package.json) and the API protocol it speaks. */
import packageJson from '../package.json';

/**
 * The protocol this server speaks. Clients send the major version they were built for (the client
 * library keeps its own constant: the two are built and shipped separately) and are refused with
 * FAILED_PRECONDITION when it differs.
 */
export const PROTOCOL_MAJOR = 1;
export const PROTOCOL_MINOR = 1;

/** The metadata key a client sends its protocol major version in (clients/lib has the same constant). */
export const PROTOCOL_HEADER = 'mcr-protocol-major';

/** What this server offers; clients may check for a feature before using it. */
export const FEATURES = ['rules', 'validate_only', 'apply_rules', 'stats', 'workers', 'health', 'reflection', 'trace', 'tokens'];

/**
 * Reported among the features, while it holds, when mcrd runs with --config FILE and FILE has
 * `rules`: they are the desired state, applied again on SIGHUP and at a restart, which undoes a rule
 * changed over the API but not in FILE. mcrctl warns on such a change. (GetVersionResponse has no
 * field for mcrd's config file; a feature says it without a protocol change.)
 */
export const CONFIG_RULES_FEATURE = 'config_rules';

export const SERVER_VERSION: string = packageJson.version;
