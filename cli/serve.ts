/** `mscr serve`: the Service layer on a port, until SIGTERM or SIGINT (then a graceful drain). */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import {
  configTextFromEnv,
  DEFAULTS,
  resolveConfig,
  type ConfigText,
  type ServiceConfig,
} from '../service/config.ts';
import { createService, type Service } from '../service/server.ts';
import {
  configForProcess,
  httpProcessCount,
  isSupervisor,
  leaveCluster,
  superviseHttpProcesses,
} from './http-processes.ts';
import { collectList } from './options.ts';
import {
  createKubernetesLauncher,
  createLocalEvaluator,
  createLocalLauncher,
  splitArgs,
} from './retrain-launcher.ts';
import { listArchitectures } from '../model/architectures/index.ts';

const splitList = (text: string | undefined): string[] => (text ? collectList(text) : []);

interface ServeFlags {
  store?: string;
  cacheDir?: string;
  model?: string[];
  policy?: string;
  pollInterval?: string;
  rolloutInterval?: string;
  host?: string;
  port?: string;
  grpcPort?: string;
  grpcMaxMessageBytes?: string;
  grpcTlsCert?: string;
  grpcTlsKey?: string;
  workers?: string;
  engine?: string;
  onnxThreads?: string;
  onnxPlacement?: string;
  onnxSpinning?: string;
  maxBatchSize?: string;
  maxQueueDelay?: string;
  maxBodyBytes?: string;
  drainTimeout?: string;
  logLevel?: string;
  backend?: string;
  adminToken?: string;
  amqpUrl?: string;
  amqpPrefetch?: string;
  amqpQueue?: string;
  mqttUrl?: string;
  mqttClientId?: string;
  mqttTopic?: string;
}

export function configFromFlags(flags: ServeFlags): ServiceConfig {
  const fromFlags: ConfigText = {
    ...(flags.store ? { store: flags.store } : {}),
    ...(flags.cacheDir ? { cacheDir: flags.cacheDir } : {}),
    ...(flags.model?.length ? { models: flags.model.join(',') } : {}),
    ...(flags.policy ? { policy: flags.policy } : {}),
    ...(flags.pollInterval ? { pollInterval: flags.pollInterval } : {}),
    ...(flags.rolloutInterval ? { rolloutInterval: flags.rolloutInterval } : {}),
    ...(flags.host ? { host: flags.host } : {}),
    ...(flags.port ? { port: flags.port } : {}),
    ...(flags.grpcPort ? { grpcPort: flags.grpcPort } : {}),
    ...(flags.grpcMaxMessageBytes ? { grpcMaxMessageBytes: flags.grpcMaxMessageBytes } : {}),
    ...(flags.grpcTlsCert ? { grpcTlsCert: flags.grpcTlsCert } : {}),
    ...(flags.grpcTlsKey ? { grpcTlsKey: flags.grpcTlsKey } : {}),
    ...(flags.workers ? { workers: flags.workers } : {}),
    ...(flags.engine ? { engine: flags.engine } : {}),
    ...(flags.onnxThreads ? { onnxThreads: flags.onnxThreads } : {}),
    ...(flags.onnxPlacement ? { onnxPlacement: flags.onnxPlacement } : {}),
    ...(flags.onnxSpinning ? { onnxSpinning: flags.onnxSpinning } : {}),
    ...(flags.maxBatchSize ? { maxBatchSize: flags.maxBatchSize } : {}),
    ...(flags.maxQueueDelay ? { maxQueueDelayMs: flags.maxQueueDelay } : {}),
    ...(flags.maxBodyBytes ? { maxBodyBytes: flags.maxBodyBytes } : {}),
    ...(flags.drainTimeout ? { drainTimeout: flags.drainTimeout } : {}),
    ...(flags.logLevel ? { logLevel: flags.logLevel } : {}),
    ...(flags.backend ? { backend: flags.backend } : {}),
    ...(flags.adminToken ? { adminToken: flags.adminToken } : {}),
    ...(flags.amqpUrl ? { amqpUrl: flags.amqpUrl } : {}),
    ...(flags.amqpPrefetch ? { amqpPrefetch: flags.amqpPrefetch } : {}),
    ...(flags.amqpQueue ? { amqpQueue: flags.amqpQueue } : {}),
    ...(flags.mqttUrl ? { mqttUrl: flags.mqttUrl } : {}),
    ...(flags.mqttClientId ? { mqttClientId: flags.mqttClientId } : {}),
    ...(flags.mqttTopic ? { mqttTopic: flags.mqttTopic } : {}),
  };
  return resolveConfig(configTextFromEnv(), fromFlags);
}

/** The web page's folder (`client/web/public`, beside this CLI), when it is there. */
export function webRootOption(): { webRoot?: string } {
  const folder = fileURLToPath(new URL('../client/web/public/', import.meta.url));
  return existsSync(folder) ? { webRoot: folder } : {};
}

/** Runs a service until a signal, then drains and resolves. */
export async function serveUntilSignal(
  service: Service,
  onListening?: (url: string, grpcPort?: number) => void,
): Promise<void> {
  const { url, grpcPort } = await service.start();
  onListening?.(url, grpcPort);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.stderr.write(`${signal}: draining in-flight requests, then exiting\n`);
      service.stop().then(resolve, resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

/** curl lines for people to try; `sample` is a file to post (an image, or a CSV whose last rows form a window). */
export function curlExamples(
  url: string,
  models: { name: string; task: string; sample?: string }[],
): string[] {
  const lines = [`curl ${url}/v2/health/ready`, `curl ${url}/v1/models`];
  for (const { name, task, sample } of models) {
    lines.push(`curl ${url}/v2/models/${name}`);
    if (task === 'image-classification') {
      lines.push(`curl --data-binary @${sample ?? 'cat.jpg'} ${url}/mscr/models/${name}/classify`);
    } else if (task === 'series-forecast') {
      lines.push(
        `tail -n 7 ${sample ?? 'prices.csv'} | curl --data-binary @- -H 'Content-Type: text/csv' ${url}/mscr/models/${name}/forecast`,
      );
    } else if (task === 'object-detection') {
      lines.push(
        `curl --data-binary @${sample ?? 'street.jpg'} '${url}/mscr/models/${name}/detect?threshold=0.5'`,
      );
    }
  }
  lines.push(`curl ${url}/metrics`);
  return lines;
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description(
      'serve the models of a store over KServe V1 / TF Serving and Open Inference (V2), with hot reload',
    )
    .option('--store <uri>', `model store URI [env MSCR_STORE] (default ${DEFAULTS.store})`)
    .option(
      '--cache-dir <folder>',
      'keep downloaded model files here by checksum; "off" for none [env MSCR_CACHE_DIR] (default: <tmpdir>/mscr-cache for s3:// and gs://, off for a folder)',
    )
    .option(
      '--model <name...>',
      'models to serve (repeatable; default: every model in the store) [env MSCR_MODELS, comma-separated]',
    )
    .option(
      '--policy <policy>',
      'versions to serve: latest, latest:N, all, specific:1,3, alias:stable [env MSCR_POLICY] (default latest)',
    )
    .option(
      '--poll-interval <seconds>',
      `how often to look for new versions [env MSCR_POLL_INTERVAL] (default ${DEFAULTS.pollIntervalMs / 1000})`,
    )
    .option(
      '--rollout-interval <seconds>',
      `how often running rollouts are analysed (canary steps, promotion, rollback) [env MSCR_ROLLOUT_INTERVAL] (default ${DEFAULTS.rolloutIntervalMs / 1000})`,
    )
    .option('--host <address>', `address to listen on [env MSCR_HOST] (default ${DEFAULTS.host})`)
    .option(
      '--port <n>',
      `port, 0 for any free one [env MSCR_PORT or PORT] (default ${DEFAULTS.port})`,
    )
    .option(
      '--grpc-port <n>',
      `gRPC port (Open Inference Protocol, TF Serving, health), 0 turns gRPC off; with --port 0 and no --grpc-port, any free port [env MSCR_GRPC_PORT] (default ${String(DEFAULTS.grpc.port)})`,
    )
    .option(
      '--grpc-max-message-bytes <n>',
      `largest gRPC message received or sent [env MSCR_GRPC_MAX_MESSAGE_BYTES] (default ${DEFAULTS.grpc.maxMessageBytes})`,
    )
    .option(
      '--grpc-tls-cert <file>',
      'PEM certificate chain for gRPC over TLS, with --grpc-tls-key [env MSCR_GRPC_TLS_CERT] (default: plaintext h2c)',
    )
    .option('--grpc-tls-key <file>', 'PEM private key for gRPC over TLS [env MSCR_GRPC_TLS_KEY]')
    .option('--workers <n>', 'inference worker threads [env MSCR_WORKERS] (default: one per core)')
    .option(
      '--engine <name>',
      'engine for versions with several forms: auto (ONNX Runtime where a version has an ONNX form), tfjs or onnx; a version with one form serves on it [env MSCR_ENGINE] (default auto)',
    )
    .option(
      '--onnx-threads <n>',
      'ONNX Runtime threads per session in each worker; keep workers x threads <= cores [env MSCR_ONNX_THREADS] (default: cores / workers, at least 1)',
    )
    .option(
      '--onnx-placement <where>',
      'where ONNX Runtime sessions run: workers (one per worker thread) or main (one per model on the service thread, no hop to a worker; for small models with --http-processes) [env MSCR_ONNX_PLACEMENT] (default workers)',
    )
    .option(
      '--onnx-spinning <on|off>',
      'idle ONNX Runtime threads spin for the next request (on: a lone request is answered sooner on otherwise idle cores) or sleep (off: the cores stay free for HTTP work under load) [env MSCR_ONNX_SPINNING] (default off)',
    )
    .option(
      '--max-batch-size <n>',
      `dynamic batching: most rows per batch, 1 turns batching off [env MSCR_MAX_BATCH_SIZE] (default ${DEFAULTS.batching.maxBatchSize})`,
    )
    .option(
      '--max-queue-delay <ms>',
      `dynamic batching: longest wait for a batch to fill [env MSCR_MAX_QUEUE_DELAY_MS] (default ${DEFAULTS.batching.maxQueueDelayMs})`,
    )
    .option(
      '--max-body-bytes <n>',
      `largest request body [env MSCR_MAX_BODY_BYTES] (default ${DEFAULTS.limits.maxBodyBytes})`,
    )
    .option(
      '--drain-timeout <seconds>',
      `longest wait for in-flight requests on SIGTERM [env MSCR_DRAIN_TIMEOUT] (default ${DEFAULTS.drainTimeoutMs / 1000})`,
    )
    .option(
      '--log-level <level>',
      'debug, info, warn, error or silent [env MSCR_LOG_LEVEL] (default info)',
    )
    .option(
      '--backend <name>',
      'TF.js backend of the workers: auto, tensorflow, wasm, cpu [env MSCR_BACKEND]',
    )
    .option(
      '--admin-token <token>',
      'bearer token of POST /mscr/models/{m}/retrain, 16+ characters; prefer the env var, flags show in ps [env MSCR_ADMIN_TOKEN] (default: retraining over HTTP off)',
    )
    .option(
      '--amqp-url <url>',
      'also take V2 infer requests from RabbitMQ (AMQP 0-9-1) queues mscr.<model>.infer, answers to reply_to; prefer the env var for credentials [env MSCR_AMQP_URL] (default: off)',
    )
    .option(
      '--amqp-prefetch <n>',
      `unacked AMQP messages per model queue, what feeds the batcher [env MSCR_AMQP_PREFETCH] (default ${DEFAULTS.brokers.amqp.prefetch})`,
    )
    .option(
      '--amqp-queue <template>',
      `request queue per model, {model} replaced [env MSCR_AMQP_QUEUE] (default ${DEFAULTS.brokers.amqp.queue}; dead letters: MSCR_AMQP_DEAD_QUEUE, ${DEFAULTS.brokers.amqp.deadQueue})`,
    )
    .option(
      '--mqtt-url <url>',
      'also take V2 infer requests over MQTT 3.1.1/5 on mscr/<model>/infer, answers on the response topic or mscr/<model>/result [env MSCR_MQTT_URL] (default: off)',
    )
    .option(
      '--mqtt-client-id <id>',
      'stable MQTT client id: the broker keeps its session (queued requests) across restarts; one per replica [env MSCR_MQTT_CLIENT_ID] (default mscr-<hostname>)',
    )
    .option(
      '--mqtt-topic <template>',
      `request topic per model, {model} replaced [env MSCR_MQTT_TOPIC] (default ${DEFAULTS.brokers.mqtt.topic}; answers: MSCR_MQTT_RESULT_TOPIC, ${DEFAULTS.brokers.mqtt.resultTopic})`,
    )
    .option(
      '--http-processes <n>',
      'service processes sharing the port (node:cluster), each with its own --workers: JSON parsing on n main threads; /metrics is per process, gRPC and brokers in the first only [env MSCR_HTTP_PROCESSES] (default 1)',
    )
    .option(
      '--retrain-data <uri...>',
      'enable POST /mscr/models/{m}/retrain here: each run is a child process of `mscr retrain` on this data [env MSCR_RETRAIN_DATA, comma-separated; more arguments in MSCR_RETRAIN_ARGS]',
      collectList,
    )
    .option(
      '--train-data-root <dir...>',
      'enable POST /mscr/train (and file:// data for it and for POST /mscr/models/{m}/evaluate) with data under these folders only; s3:// and gs:// data need no root [env MSCR_TRAIN_DATA_ROOTS, comma-separated]',
      collectList,
    )
    .addHelpText(
      'after',
      '\nExample:\n  mscr serve --store file://./models --port 8080 --poll-interval 5\n  curl localhost:8080/v2/health/ready',
    )
    .action(
      async (
        flags: ServeFlags & {
          retrainData?: string[];
          trainDataRoot?: string[];
          httpProcesses?: string;
        },
      ) => {
        const processes = httpProcessCount(flags.httpProcesses ?? process.env.MSCR_HTTP_PROCESSES);
        // Checked once here, so a bad flag is one message, not one per process.
        const checked = configFromFlags(flags);
        if (isSupervisor(processes)) {
          await superviseHttpProcesses(processes);
          return;
        }
        const config = configForProcess(checked);
        const retrainData = flags.retrainData ?? splitList(process.env.MSCR_RETRAIN_DATA);
        const trainRoots = flags.trainDataRoot ?? splitList(process.env.MSCR_TRAIN_DATA_ROOTS);
        const cronJob = process.env.MSCR_RETRAIN_CRONJOB;
        // In a cluster the chart sets MSCR_RETRAIN_CRONJOB: runs are Jobs from that CronJob.
        const launcher = cronJob
          ? createKubernetesLauncher({
              store: config.store,
              cronJobName: cronJob,
              ...(process.env.MSCR_RETRAIN_NAMESPACE
                ? { namespace: process.env.MSCR_RETRAIN_NAMESPACE }
                : {}),
            })
          : retrainData.length > 0 || trainRoots.length > 0
            ? createLocalLauncher({
                store: config.store,
                data: retrainData,
                extraArgs: splitArgs(process.env.MSCR_RETRAIN_ARGS),
              })
            : undefined;
        const service = await createService(config, {
          ...webRootOption(),
          ...(launcher ? { retrain: launcher } : {}),
          train: {
            fileRoots: trainRoots,
            architectures: listArchitectures().map((a) => a.name),
            evaluator: createLocalEvaluator({ store: config.store }),
          },
        });
        await serveUntilSignal(service, (url, grpcPort) =>
          process.stderr.write(
            `mscr serving ${config.store} at ${url}${grpcPort !== undefined ? ` and gRPC on port ${grpcPort}` : ''}\n`,
          ),
        );
        leaveCluster();
      },
    );
}
