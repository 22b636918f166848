/**
 * The vendored official protos (./protos, sources and licence in its README), loaded once
 * with `@grpc/proto-loader` for the services and with protobufjs for the one message that
 * travels inside a `google.protobuf.Any` (TF Serving's `SignatureDefMap`).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

export const PROTO_DIR = fileURLToPath(new URL('./protos/', import.meta.url));

export const PROTO_FILES = [
  'kserve/grpc_predict_v2.proto',
  'tensorflow_serving/apis/prediction_service.proto',
  'tensorflow_serving/apis/model_service.proto',
  'grpc/health/v1/health.proto',
] as const;

/**
 * keepCase: field names as in the .proto (`raw_input_contents`), like every other
 * language's generated code; longs as numbers (shapes and versions are far below 2^53);
 * oneofs tell which member is set (`parameter_choice`, `encoding`).
 */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  bytes: Buffer,
  defaults: true,
  arrays: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

let loaded: { services: Services; signatureDefMap: protobuf.Type } | undefined;

export interface Services {
  inference: grpc.ServiceDefinition;
  prediction: grpc.ServiceDefinition;
  model: grpc.ServiceDefinition;
  health: grpc.ServiceDefinition;
}

function service(root: grpc.GrpcObject, name: string): grpc.ServiceDefinition {
  let node: unknown = root;
  for (const part of name.split('.')) node = (node as Record<string, unknown>)[part];
  const client = node as { service?: grpc.ServiceDefinition } | undefined;
  if (client?.service === undefined) throw new Error(`${name} is not in the vendored protos`);
  return client.service;
}

export function loadProtos(): { services: Services; signatureDefMap: protobuf.Type } {
  if (loaded !== undefined) return loaded;
  const definition = protoLoader.loadSync([...PROTO_FILES], LOADER_OPTIONS);
  const root = grpc.loadPackageDefinition(definition);
  const pbRoot = new protobuf.Root();
  pbRoot.resolvePath = (_origin, target) =>
    target.startsWith('google/protobuf/') ? target : path.join(PROTO_DIR, target);
  pbRoot.loadSync('tensorflow_serving/apis/get_model_metadata.proto', { keepCase: true });
  loaded = {
    services: {
      inference: service(root, 'inference.GRPCInferenceService'),
      prediction: service(root, 'tensorflow.serving.PredictionService'),
      model: service(root, 'tensorflow.serving.ModelService'),
      health: service(root, 'grpc.health.v1.Health'),
    },
    signatureDefMap: pbRoot.lookupType('tensorflow.serving.SignatureDefMap'),
  };
  return loaded;
}
