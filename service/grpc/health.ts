/**
 * The gRPC health checking protocol (`grpc.health.v1.Health`), per model: the service ""
 * and the names of mscr's gRPC services report the server's readiness; a model's name
 * reports that model's (SERVING when it has an available version). Unknown names are
 * NOT_FOUND for Check and SERVICE_UNKNOWN for Watch, as the protocol says. While draining,
 * everything is NOT_SERVING, so balancers stop sending first.
 */
import type { ServerWritableStream } from '@grpc/grpc-js';
import { MscrError } from '../../connectors/errors.ts';
import type { DataPlane } from '../dataplane/index.ts';

export const SERVER_SERVICES = [
  '',
  'inference.GRPCInferenceService',
  'tensorflow.serving.PredictionService',
  'tensorflow.serving.ModelService',
] as const;

type ServingStatus = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

export function healthOf(dataPlane: DataPlane, service: string): ServingStatus {
  if ((SERVER_SERVICES as readonly string[]).includes(service))
    return dataPlane.ready() ? 'SERVING' : 'NOT_SERVING';
  if (!dataPlane.listModels().includes(service)) return 'SERVICE_UNKNOWN';
  if (dataPlane.draining) return 'NOT_SERVING';
  return dataPlane.modelReady(service) ? 'SERVING' : 'NOT_SERVING';
}

export function createHealthHandlers(options: { dataPlane: DataPlane; watchIntervalMs?: number }) {
  const { dataPlane } = options;
  const interval = options.watchIntervalMs ?? 250;
  type WatchCall = ServerWritableStream<{ service: string }, { status: ServingStatus }>;
  const watches = new Map<WatchCall, { tick: () => void; end: () => void }>();
  return {
    Check: (request: { service: string }) => {
      const status = healthOf(dataPlane, request.service);
      if (status === 'SERVICE_UNKNOWN')
        throw new MscrError(
          'not_found',
          `no service or model named ${JSON.stringify(request.service)}`,
        );
      return { status };
    },
    /** Sends the status now and on every change, until the client cancels or we drain. */
    Watch: (call: WatchCall) => {
      let last: ServingStatus | undefined;
      const tick = () => {
        const status = healthOf(dataPlane, call.request.service);
        if (status !== last) {
          last = status;
          call.write({ status });
        }
      };
      tick();
      const timer = setInterval(tick, interval);
      const end = () => {
        clearInterval(timer);
        watches.delete(call);
      };
      watches.set(call, { tick, end });
      call.on('cancelled', end);
      call.on('close', end);
      call.on('error', end);
    },
    /**
     * Ends open watches after a last status (NOT_SERVING once draining has begun), so a
     * graceful shutdown can finish.
     */
    endWatches: () => {
      for (const [call, { tick, end }] of [...watches]) {
        tick();
        end();
        call.end();
      }
    },
  };
}
