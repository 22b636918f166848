/**
 * The gRPC front: another protocol adapter on the one data plane (as KServe serves REST and
 * gRPC from one model server), on its own port. Services: the Open Inference Protocol
 * (`inference.GRPCInferenceService`), TF Serving's `PredictionService` and `ModelService`,
 * and the gRPC health protocol. Batching, hot reload, metrics and errors are the data
 * plane's and the service's; this file only wires methods and owns the listening socket.
 */
import { readFile } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import { MscrError } from '../../connectors/errors.ts';
import type { DataPlane } from '../dataplane/index.ts';
import type { Monitoring } from '../monitoring/index.ts';
import type { Logger } from '../observability/log.ts';
import type { ServiceMetrics } from '../observability/metrics.ts';
import type { DecodeLimits } from '../protocols/index.ts';
import { unary, type CallOptions } from './call.ts';
import { createHealthHandlers } from './health.ts';
import { createOipHandlers } from './oip.ts';
import { loadProtos } from './protos.ts';
import { createTfServingHandlers } from './tfserving.ts';

export { grpcStatusOf } from './status.ts';
export { PROTO_DIR, PROTO_FILES, LOADER_OPTIONS } from './protos.ts';

export interface GrpcServerOptions {
  dataPlane: DataPlane;
  metrics: ServiceMetrics;
  logger: Logger;
  monitoring: Monitoring;
  limits: DecodeLimits;
  serverVersion: string;
  /** Largest message received or sent (gRPC answers RESOURCE_EXHAUSTED above it). */
  maxMessageBytes: number;
  /** PEM files of the server's certificate and key; absent: plaintext (h2c). */
  tls?: { certFile: string; keyFile: string };
}

export interface GrpcServer {
  /** Binds `host:port` (0 = any free port) and resolves with the port. */
  listen(host: string, port: number): Promise<number>;
  /** Refuses new calls, lets in-flight calls finish up to `timeoutMs`, then cancels the rest. */
  drain(timeoutMs: number): Promise<'drained' | 'timeout'>;
}

export function createGrpcServer(options: GrpcServerOptions): GrpcServer {
  const { services } = loadProtos();
  const server = new grpc.Server({
    'grpc.max_receive_message_length': options.maxMessageBytes,
    'grpc.max_send_message_length': options.maxMessageBytes,
  });
  const call: CallOptions = { metrics: options.metrics, logger: options.logger };
  const oip = createOipHandlers(options);
  server.addService(services.inference, {
    ServerLive: unary(call, 'ServerLive', oip.ServerLive, true),
    ServerReady: unary(call, 'ServerReady', oip.ServerReady, true),
    ServerMetadata: unary(call, 'ServerMetadata', oip.ServerMetadata),
    ModelReady: unary(call, 'ModelReady', oip.ModelReady, true),
    ModelMetadata: unary(call, 'ModelMetadata', oip.ModelMetadata),
    ModelInfer: unary(call, 'ModelInfer', oip.ModelInfer),
  });
  const tf = createTfServingHandlers(options);
  server.addService(services.prediction, {
    Predict: unary(call, 'Predict', tf.Predict),
    GetModelMetadata: unary(call, 'GetModelMetadata', tf.GetModelMetadata),
  });
  server.addService(services.model, {
    GetModelStatus: unary(call, 'GetModelStatus', tf.GetModelStatus),
  });
  const health = createHealthHandlers({ dataPlane: options.dataPlane });
  server.addService(services.health, {
    Check: unary(call, 'Health/Check', health.Check, true),
    Watch: health.Watch as grpc.UntypedHandleCall,
  });

  return {
    async listen(host, port) {
      let credentials = grpc.ServerCredentials.createInsecure();
      if (options.tls) {
        const [cert, key] = await Promise.all([
          readFile(options.tls.certFile),
          readFile(options.tls.keyFile),
        ]).catch((error: unknown) => {
          throw new MscrError(
            'config',
            `cannot read the gRPC TLS certificate or key: ${(error as Error).message}`,
          );
        });
        credentials = grpc.ServerCredentials.createSsl(
          null,
          [{ cert_chain: cert, private_key: key }],
          false,
        );
      }
      const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
      return await new Promise<number>((resolve, reject) => {
        server.bindAsync(address, credentials, (error, bound) => {
          if (error) {
            reject(new MscrError('config', `gRPC cannot listen on ${address}: ${error.message}`));
          } else resolve(bound);
        });
      });
    },
    async drain(timeoutMs) {
      health.endWatches();
      const done = new Promise<'drained'>((resolve) =>
        server.tryShutdown(() => resolve('drained')),
      );
      const timeout = new Promise<'timeout'>((resolve) =>
        setTimeout(() => resolve('timeout'), timeoutMs).unref(),
      );
      const outcome = await Promise.race([done, timeout]);
      if (outcome === 'timeout') server.forceShutdown();
      return outcome;
    },
  };
}
