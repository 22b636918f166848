/**
 * A stock Node gRPC client for the tests: @grpc/grpc-js with the vendored official protos
 * loaded by @grpc/proto-loader, as any Node caller of KServe or TF Serving would.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { LOADER_OPTIONS, PROTO_FILES } from './protos.ts';

type Ctor = grpc.ServiceClientConstructor;

/** A unary method of a client made from a package definition. */
export type UnaryMethod = (
  request: unknown,
  metadata: grpc.Metadata,
  callback: (error: grpc.ServiceError | null, response: unknown) => void,
) => grpc.ClientUnaryCall;

export function methodOf(client: grpc.Client, method: string): UnaryMethod {
  const fn = (client as unknown as Record<string, UnaryMethod | undefined>)[method];
  if (typeof fn !== 'function') throw new Error(`no method ${method}`);
  return fn.bind(client);
}

export interface Clients {
  inference: grpc.Client;
  prediction: grpc.Client;
  health: grpc.Client;
  close(): void;
}

function ctor(root: grpc.GrpcObject, name: string): Ctor {
  let node: unknown = root;
  for (const part of name.split('.')) node = (node as Record<string, unknown>)[part];
  return node as Ctor;
}

export function grpcClients(
  address: string,
  credentials = grpc.credentials.createInsecure(),
  options: grpc.ClientOptions = {},
): Clients {
  const root = grpc.loadPackageDefinition(protoLoader.loadSync([...PROTO_FILES], LOADER_OPTIONS));
  const inference = new (ctor(root, 'inference.GRPCInferenceService'))(
    address,
    credentials,
    options,
  );
  const prediction = new (ctor(root, 'tensorflow.serving.PredictionService'))(
    address,
    credentials,
    options,
  );
  const health = new (ctor(root, 'grpc.health.v1.Health'))(address, credentials, options);
  return {
    inference,
    prediction,
    health,
    close() {
      inference.close();
      prediction.close();
      health.close();
    },
  };
}

/** One unary call as a promise: the response, or the ServiceError (code, details). */
export function callUnary<T = Record<string, unknown>>(
  client: grpc.Client,
  method: string,
  request: unknown,
  metadata = new grpc.Metadata(),
): Promise<T> {
  return new Promise((resolve, reject) => {
    methodOf(client, method)(request, metadata, (error, response) =>
      error ? reject(error) : resolve(response as T),
    );
  });
}

/** A ModelInfer request for the toy classifier: `rows` rows of four 0.5s, raw FP32 bytes. */
export function toyModelInfer(model: string, rows = 1): Record<string, unknown> {
  return {
    model_name: model,
    inputs: [{ name: 'features', datatype: 'FP32', shape: [rows, 4] }],
    raw_input_contents: [Buffer.from(new Float32Array(rows * 4).fill(0.5).buffer)],
  };
}
