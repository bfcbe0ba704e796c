/** mcr.v1.SystemService: versions and workers. */
import { status } from '@grpc/grpc-js';

import {
  GetLogLevelsResponse,
  GetVersionRequest,
  GetVersionResponse,
  ListWorkersResponse,
  SetLogLevelRequest,
  SetLogLevelResponse,
  SystemServiceServer,
  Worker,
  WorkerState,
} from '../../gen/mcr/v1/system';
import { Facility, FACILITIES, getLogLevels, isFacility, isLogLevel, LOG_LEVELS, setLogLevel } from '../log';
import type { WorkerPool, WorkerSlot } from '../workers/pool';
import { FEATURES, PROTOCOL_MAJOR, PROTOCOL_MINOR, SERVER_VERSION } from '../version';
import { ApiError } from './errors';
import { CallGate, unary } from './unary';

export interface SystemServiceDeps {
  pool: WorkerPool;
  gate: CallGate;
  startedUnixNanos: bigint;
}

function describeWorker(slot: WorkerSlot): Worker {
  const process = slot.process;
  const alive = process?.alive === true;
  const restarting = slot.state === WorkerState.WORKER_STATE_RESTARTING;
  return {
    index: slot.index,
    pid: alive ? process!.pid : 0,
    uid: alive && process!.uid >= 0 ? process!.uid : 0,
    core: slot.core,
    state: slot.state,
    rules: slot.sync?.rules.length ?? 0,
    rulesetHash: slot.running ? slot.health.reportedHash : '',
    expectedRulesetHash: slot.sync?.expectedHash ?? '',
    restarts: slot.restarts,
    startedUnixNanos: process?.startedUnixNanos ?? 0n,
    backoffMs: restarting ? Math.max(0, slot.restartDueMs - Date.now()) : 0,
    missedHeartbeats: slot.health.missed,
    lastHeartbeatUnixNanos: slot.health.lastHeartbeatUnixNanos,
    drifts: slot.drifts,
    driftRepairs: slot.driftRepairs,
    driftRestarts: slot.driftRestarts,
    lastExit: slot.lastExit,
    lastRestartReason: slot.lastRestartReason,
  };
}

export function systemService({ pool, gate, startedUnixNanos }: SystemServiceDeps): SystemServiceServer {
  return {
    getVersion: unary(gate, 'GetVersion', (req: GetVersionRequest): GetVersionResponse => {
      if (req.clientProtocolMajor !== 0 && req.clientProtocolMajor !== PROTOCOL_MAJOR) {
        throw new ApiError(
          status.FAILED_PRECONDITION,
          'client_protocol_major',
          `client speaks mcr protocol ${req.clientProtocolMajor}.x, this mcrd ${SERVER_VERSION} speaks ${PROTOCOL_MAJOR}.${PROTOCOL_MINOR}: use a client of the same major version`,
        );
      }
      return {
        serverVersion: SERVER_VERSION,
        protocolMajor: PROTOCOL_MAJOR,
        protocolMinor: PROTOCOL_MINOR,
        features: FEATURES,
        startedUnixNanos,
      };
    }),

    listWorkers: unary(gate, 'ListWorkers', (): ListWorkersResponse => ({ workers: pool.slots.map(describeWorker) })),

    setLogLevel: unary(gate, 'SetLogLevel', async (req: SetLogLevelRequest): Promise<SetLogLevelResponse> => {
      const { facility, level } = req;
      let target: Facility | undefined;
      if (facility) {
        if (!isFacility(facility)) {
          throw new ApiError(status.INVALID_ARGUMENT, 'facility', `unknown facility "${facility}": one of ${FACILITIES.join(', ')}, or empty for all`);
        }
        target = facility;
      }
      if (!isLogLevel(level)) throw new ApiError(status.INVALID_ARGUMENT, 'level', `unknown level "${level}": one of ${LOG_LEVELS.join(', ')}`);
      setLogLevel(level, target);
      if (!target || target === 'worker') await pool.setWorkerLogLevel(level);
      return { levels: getLogLevels() };
    }),

    getLogLevels: unary(gate, 'GetLogLevels', (): GetLogLevelsResponse => ({ levels: getLogLevels() })),
  };
}
