/** mcr.v1.TraceService: switch packet tracing of a rule on and off, read its records, or watch them live. */
import { ServerWritableStream, status } from '@grpc/grpc-js';

import {
  DisableTraceRequest,
  EnableTraceRequest,
  GetTraceRequest,
  ListTracesRequest,
  ListTracesResponse,
  TraceStatus,
  TraceServiceServer,
  WatchTracesRequest,
  WatchTracesResponse,
} from '../../gen/mcr/v1/trace';
import { logger } from '../log';
import type { TraceManager } from '../trace/manager';
import { ApiError, shuttingDown, toApiError } from './errors';
import { pageCursor, sizeInList, takePage } from './paging';
import { CallGate, unary } from './unary';

const log = logger('api');

export interface TraceServiceDeps {
  traces: TraceManager;
  gate: CallGate;
}

export function traceService({ traces, gate }: TraceServiceDeps): TraceServiceServer {
  const watchTraces = (call: ServerWritableStream<WatchTracesRequest, WatchTracesResponse>): void => {
    const refuse = (err: ApiError): void => {
      log.debug('request refused', { rpc: 'WatchTraces', code: status[err.code], message: err.message });
      call.emit('error', err.toServiceError());
    };
    if (gate.closing) return refuse(shuttingDown());
    let unsubscribe: () => void;
    try {
      unsubscribe = traces.subscribe(call, call.request.rules);
    } catch (thrown) {
      // The domain's errors are answered as their status (toApiError).
      const err = toApiError(thrown);
      if (err instanceof ApiError) return refuse(err);
      log.error('request failed', { rpc: 'WatchTraces', error: (err as Error).stack });
      return refuse(new ApiError(status.INTERNAL, undefined, `WatchTraces failed: ${(err as Error).message}`));
    }
    for (const event of ['cancelled', 'close', 'error']) call.on(event, unsubscribe);
  };

  return {
    enableTrace: unary(gate, 'EnableTrace', async (req: EnableTraceRequest) => ({ status: await traces.enable(req) })),
    disableTrace: unary(gate, 'DisableTrace', async (req: DisableTraceRequest) => ({ status: await traces.disable(req.rule) })),
    getTrace: unary(gate, 'GetTrace', (req: GetTraceRequest) => traces.get(req.rule)),
    listTraces: unary(gate, 'ListTraces', (req: ListTracesRequest): ListTracesResponse => {
      const cursor = pageCursor(req, 'ListTraces', {}, 1);
      const page = takePage(cursor, {
        sorted: traces.list(),
        keyOf: (trace) => [trace.ruleId],
        select: (trace) => trace,
        sizeOf: (trace) => sizeInList(TraceStatus.encode(trace).finish().length),
      });
      return { traces: page.items, nextPageToken: page.nextPageToken };
    }),
    watchTraces,
  };
}
