/** Versions this client library was built with. */
import packageJson from '../../package.json';

/**
 * The mcr API protocol major version this client speaks. Every call carries it (PROTOCOL_HEADER), and
 * an mcrd of another major version answers FAILED_PRECONDITION, saying so, instead of serving a
 * client that would misread it. GetVersion also sends it in its request.
 */
export const PROTOCOL_MAJOR = 1;

/** The metadata key carrying PROTOCOL_MAJOR with every call. */
export const PROTOCOL_HEADER = 'mcr-protocol-major';

/** The mcr package version the client was built from. */
export const CLIENT_VERSION: string = packageJson.version;

/** Features GetVersion may report. CONFIG_RULES: mcrd's config file has the rules (a change made over the API is undone by its next reload). */
export const CONFIG_RULES_FEATURE = 'config_rules';

/** The UNAVAILABLE message of a call (or stream) mcrd ends because it is shutting down. */
export const SHUTTING_DOWN = 'mcrd is shutting down';
