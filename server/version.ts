/** Versions: mcrd's own (package.json) and the API protocol it speaks. */
import packageJson from '../package.json';

/**
 * The protocol this server speaks. Clients send the major version they were built for (the client
 * library keeps its own constant: the two are built and shipped separately) and are refused with
 * FAILED_PRECONDITION when it differs.
 */
export const PROTOCOL_MAJOR = 1;
export const PROTOCOL_MINOR = 1;

/** What this server offers; clients may check for a feature before using it. */
export const FEATURES = ['rules', 'validate_only', 'apply_rules', 'stats', 'workers', 'health', 'reflection', 'trace', 'tokens'];

export const SERVER_VERSION: string = packageJson.version;
