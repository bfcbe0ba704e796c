/**
 * Version skew, on every call: a client that says which protocol major version it speaks
 * (clients/lib sends PROTOCOL_HEADER with each call) and speaks another one than this mcrd is
 * answered FAILED_PRECONDITION, plainly, before it can misread anything. Clients that do not say
 * (grpcurl, other tools) are served: the API's own compatibility rules apply to them.
 */
import { Metadata, status } from '@grpc/grpc-js';

import { PROTOCOL_HEADER, PROTOCOL_MAJOR, PROTOCOL_MINOR, SERVER_VERSION } from '../version';
import { ApiError } from './errors';

export function checkProtocol(_path: string, metadata: Metadata): ApiError | null {
  const said = metadata.get(PROTOCOL_HEADER);
  if (said.length === 0 || String(said[0]) === String(PROTOCOL_MAJOR)) return null;
  return new ApiError(
    status.FAILED_PRECONDITION,
    undefined,
    `this client speaks mcr protocol ${String(said[0]).slice(0, 10)}.x and this mcrd ${SERVER_VERSION} speaks ${PROTOCOL_MAJOR}.${PROTOCOL_MINOR}: use a client of the same major version`,
  );
}
