/** Versions this client library was built with. */
import packageJson from '../../package.json';

/**
 * The mcr API protocol major version this client speaks. GetVersion sends it, and an mcrd of another
 * major version answers FAILED_PRECONDITION instead of serving a client that would misread it.
 */
export const PROTOCOL_MAJOR = 1;

/** The mcr package version the client was built from. */
export const CLIENT_VERSION: string = packageJson.version;
