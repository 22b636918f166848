/**
 * The Service, assembled: store -> source -> manager (hot reload) -> inference engine
 * (worker threads, batching) -> data plane -> HTTP and gRPC (two adapters on the one data
 * plane, each on its own port). `start()` listens; `stop()` drains:
 * readiness goes false, new connections are refused, in-flight requests finish (up to the
 * drain timeout), then models unload and workers end.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openObjectStore, openStore } from '../connectors/store/index.ts';
import { createFeedbackStore } from '../connectors/sr/feedback-store.ts';
import type { FeedbackStore, RetrainLauncher } from '../connectors/sr/index.ts';
import { createBrokerMetrics, createBrokers, type Brokers } from './brokers/index.ts';
import type { ServiceConfig } from './config.ts';
import { createEngineLoader, DataPlane, type ServedVersion } from './dataplane/index.ts';
import { InferenceEngine } from './engine/index.ts';
import { createGrpcServer, type GrpcServer } from './grpc/index.ts';
import { createApp, type AppOptions } from './http/app.ts';
import { trackConnections, type HttpDrain } from './http/drain.ts';
import { createLogger, type Logger } from './observability/log.ts';
import { Monitoring } from './monitoring/index.ts';
import {
  createMetrics,
  recordVersionState,
  registerRetrainMetrics,
  type ServiceMetrics,
} from './observability/metrics.ts';
import { createImagePolicy } from './protocols/image-policy.ts';
import { createManager, type Manager } from './reload/manager.ts';
import { parsePolicy } from './reload/policy.ts';
import { createStoreSource, type Source } from './reload/source.ts';
import { createRolloutStore } from '../connectors/store/rollout.ts';
import { rolloutAdminRoutes } from './rollout/admin.ts';
import { createRolloutController, type RolloutController } from './rollout/controller.ts';
import { withRollout } from './rollout/policy.ts';
import { RolloutRouter } from './rollout/router.ts';

export interface Service {
  readonly config: ServiceConfig;
  readonly dataPlane: DataPlane;
  readonly metrics: ServiceMetrics;
  readonly manager: Manager<ServedVersion>;
  readonly engine: InferenceEngine;
  /** Prediction log, signals and feedback. */
  readonly monitoring: Monitoring;
  /** The broker adapters (AMQP, MQTT), each present when its URL is configured. */
  readonly brokers: Brokers;
  /** Progressive delivery: the traffic split and the controller that judges rollouts. */
  readonly rollout: { router: RolloutRouter; controller: RolloutController };
  /**
   * Listens on the configured host and port (0 = any free port), and gRPC on its port
   * unless it is off; resolves with the ports.
   */
  start(): Promise<{ port: number; url: string; grpcPort?: number }>;
  /** Resolves once the first poll of the store has been applied (models may still be loading). */
  firstPoll(): Promise<void>;
  /** Graceful stop; safe to call more than once. */
  stop(): Promise<void>;
}

export interface ServiceOptions {
  logger?: Logger;
  serverVersion?: string;
  /**
   * Starts retraining runs for `POST /mscr/models/{m}/retrain` and lists them for
   * `GET /mscr/models/{m}/runs`; given by the composition root (a child process on one
   * machine, a Job in a cluster). Absent: those endpoints answer 501.
   */
  retrain?: RetrainLauncher;
  /** A folder of static files to serve at `/` (the web page). */
  webRoot?: string;
  /**
   * Training and evaluation as a service (`POST /mscr/train`, `POST /mscr/models/{m}/evaluate`):
   * the folders `file://` data may name, the known architectures, the evaluator.
   */
  train?: AppOptions['train'];
  /** Where feedback goes. Default: the model store, beside the models. */
  feedbackStore?: FeedbackStore;
}

/** Splits an engine key `name@version`. */
function parseKey(key: string): { model: string; version: string } {
  const at = key.lastIndexOf('@');
  return { model: key.slice(0, at), version: key.slice(at + 1) };
}

export async function createService(
  config: ServiceConfig,
  options: ServiceOptions = {},
): Promise<Service> {
  const logger = options.logger ?? createLogger(config.logLevel, { service: 'mscr' });
  const metrics = createMetrics();
  // Drift signals follow the version that speaks for the model: stable during a rollout.
  let servingOf: (model: string) => number | undefined = () => undefined;
  const router = new RolloutRouter({
    registry: metrics.registry,
    onServingChange: (model, version) =>
      monitoring.servingChanged(model, version ?? servingOf(model)),
  });
  const monitoring = new Monitoring({
    metrics,
    logger,
    log: config.predictionLog,
    // Its own handle on the store's objects: a cloud SDK loads only when feedback arrives.
    // Never creating a missing store root: a vanished local store must not come back with
    // only feedback in it (the next poll would see no models and unload them all).
    feedbackStore:
      options.feedbackStore ??
      createFeedbackStore(openObjectStore(config.store, process.env, { createRoot: false })),
    feedbackTrust: config.feedback.trust,
    onJudged: (model, version, correct) => router.feedback(model, version, correct),
  });
  const store = openStore(config.store, {
    cacheDir: config.cacheDir,
    cacheMaxBytes: config.cacheMaxBytes,
  });
  // Rollout states and decisions live beside the aliases; never creating a missing root.
  const rollouts = createRolloutStore(
    openObjectStore(config.store, process.env, { createRoot: false }),
  );
  const engine = await InferenceEngine.start({
    workers: config.workers,
    backend: config.backend,
    onnxThreads: config.onnxThreads,
    onnxInProcess: config.onnxPlacement === 'main',
    onnxSpinning: config.onnxSpinning,
    batching: {
      maxBatchSize: config.batching.maxBatchSize,
      maxQueueDelayMs: config.batching.maxQueueDelayMs,
    },
    onEvent: (event) => {
      if (event.type === 'worker_exit')
        logger.error('inference worker exited; replacing it', { ...event });
      else if (event.type === 'worker_start_failed')
        logger.error('inference worker failed to start', {
          worker: event.worker,
          error: event.error.message,
        });
      else if (event.type === 'reload_failed')
        logger.error('a restarted worker could not reload a model', {
          worker: event.worker,
          key: event.key,
          error: event.error.message,
        });
      else
        logger.debug('inference worker ready', {
          worker: event.worker,
          backend: event.backend.name,
          restart: event.restart,
        });
    },
  });
  engine.onBatch((stats) => {
    const labels = parseKey(stats.key);
    metrics.batchSize.observe(labels, stats.size);
    metrics.queueTime.observe(labels, stats.queueMs / 1000);
  });

  const manager = createManager<ServedVersion>({
    loader: createEngineLoader(store, engine, { engine: config.engine }),
    // A running rollout serves stable and candidate at once (see rollout/policy.ts).
    policy: withRollout(parsePolicy(config.policy)),
  });
  servingOf = (model) =>
    manager.models().includes(model) ? manager.status(model).serving : undefined;
  manager.on((event) => {
    const fields = { ...event };
    switch (event.type) {
      case 'loading':
        recordVersionState(metrics, event.model, event.version, 'LOADING');
        logger.info('loading model version', fields);
        return;
      case 'available':
        recordVersionState(metrics, event.model, event.version, 'AVAILABLE');
        metrics.loadEvents.inc({ model: event.model, event: 'load' });
        metrics.loadDuration.observe({ model: event.model }, event.durationMs / 1000);
        logger.info('model version available', fields);
        return;
      case 'failed':
        recordVersionState(metrics, event.model, event.version, 'FAILED');
        metrics.loadEvents.inc({ model: event.model, event: 'failure' });
        logger.error('model version failed to load; will retry', fields);
        return;
      case 'unloading':
        recordVersionState(metrics, event.model, event.version, 'UNLOADING');
        return;
      case 'unloaded':
      case 'cancelled':
        recordVersionState(metrics, event.model, event.version, 'END');
        metrics.loadEvents.inc({ model: event.model, event: 'unload' });
        logger.info(`model version ${event.type}`, fields);
        return;
      case 'serving':
        monitoring.servingChanged(event.model, router.preferred(event.model) ?? event.version);
        logger.info('serving version changed', fields);
        return;
    }
  });

  const source: Source = createStoreSource({
    store,
    models: config.models,
    pollIntervalMs: config.pollIntervalMs,
    rollouts,
  });
  source.onDesired((state) => {
    router.update(state);
    manager.setDesired(state);
  });
  const pollNow = () => void source.pollOnce();
  const rolloutController = createRolloutController({
    store,
    rollouts,
    router,
    intervalMs: config.rolloutIntervalMs,
    logger,
    loadFailure: (model, version) => {
      if (!manager.models().includes(model)) return undefined;
      const entry = manager.status(model).versions.find((v) => v.version === version);
      return entry?.state === 'FAILED' ? (entry.error ?? 'unknown error') : undefined;
    },
    onChange: pollNow,
  });
  source.onError((error) =>
    logger.warn('model store poll failed; current versions keep serving', {
      model: error.model,
      error: error.message,
    }),
  );

  const dataPlane = new DataPlane({
    manager,
    engine,
    models: config.models,
    onInference: (result) => monitoring.observe(result),
    router,
  });
  const retrain = options.retrain;
  if (retrain !== undefined) {
    registerRetrainMetrics(
      metrics.registry,
      () => dataPlane.listModels(),
      (model) => retrain.runs(model, { limit: 100 }),
    );
  }
  const limits = {
    maxElements: config.limits.maxElements,
    maxBatch: 1024,
    maxBodyBytes: config.limits.maxBodyBytes,
    images: createImagePolicy({
      formats: config.images.formats,
      maxPixels: config.images.maxPixels,
      maxPerRequest: config.images.maxPerRequest,
      concurrency: config.images.decodeConcurrency,
    }),
  };
  // Broker adapters: other doors to the same data plane.
  const brokers = createBrokers({
    settings: config.brokers,
    dataPlane,
    monitoring,
    manager,
    limits,
    logger,
    metrics: createBrokerMetrics(metrics.registry),
    drainTimeoutMs: config.drainTimeoutMs,
    adminToken: config.adminToken,
    ...(retrain !== undefined ? { retrain } : {}),
  });
  const app = createApp({
    dataPlane,
    metrics,
    logger,
    limits,
    serverVersion: options.serverVersion ?? '0.1.0',
    monitoring,
    adminToken: config.adminToken,
    feedback: config.feedback,
    ...(options.retrain !== undefined ? { retrain: options.retrain } : {}),
    ...(options.webRoot !== undefined ? { webRoot: options.webRoot } : {}),
    ...(options.train !== undefined ? { train: options.train } : {}),
    rolloutRoutes: rolloutAdminRoutes({
      store,
      rollouts,
      router,
      adminToken: config.adminToken,
      knows: (model) => dataPlane.knows(model),
      onChange: pollNow,
    }),
  });

  const grpcServer: GrpcServer | undefined =
    config.grpc.port === 0
      ? undefined
      : createGrpcServer({
          dataPlane,
          metrics,
          logger,
          monitoring,
          limits: { maxElements: config.limits.maxElements, maxBatch: 1024 },
          serverVersion: options.serverVersion ?? '0.1.0',
          maxMessageBytes: config.grpc.maxMessageBytes,
          ...(config.grpc.tlsCert !== ''
            ? { tls: { certFile: config.grpc.tlsCert, keyFile: config.grpc.tlsKey } }
            : {}),
        });

  let server: Server | undefined;
  let httpDrain: HttpDrain | undefined;
  let grpcListening = false;
  let stopping: Promise<void> | undefined;
  let firstPoll: Promise<void> | undefined;

  const service: Service = {
    config,
    dataPlane,
    metrics,
    manager,
    engine,
    monitoring,
    brokers,
    rollout: { router, controller: rolloutController },
    firstPoll: () => (firstPoll ??= source.pollOnce().then(() => undefined)),
    async start() {
      firstPoll ??= source.pollOnce().then(() => undefined);
      source.start();
      rolloutController.start();
      // Consume only once the store's models are known: before the first poll every model
      // is "unknown", and a broker message answered 404 then would be a message lost.
      void firstPoll.then(
        () => {
          if (stopping === undefined) brokers.start();
        },
        () => {
          if (stopping === undefined) brokers.start();
        },
      );
      server = await new Promise<Server>((resolve, reject) => {
        // Node checks request and header timeouts every connectionsCheckingInterval (30 s by
        // default): check often enough that a short requestTimeout means what it says.
        const s = createServer(
          {
            connectionsCheckingInterval: Math.min(
              30_000,
              Math.max(250, config.limits.requestTimeoutMs / 4),
            ),
          },
          app,
        );
        s.once('error', reject);
        s.listen(config.port, config.host, () => resolve(s));
      });
      httpDrain = trackConnections(server);
      // Keep-alive must outlive a load balancer's idle timeout, or it races with our close.
      server.keepAliveTimeout = 65_000;
      // Headers must arrive within this (slowloris), the whole request within requestTimeout
      // (a slow body holds up to maxBodyBytes of memory), and at most maxConnections sockets
      // are open at once (more are refused at accept): each bounds what slow or many clients
      // can hold. Node applies the smaller of the two, so headersTimeout is capped too.
      server.headersTimeout = Math.min(66_000, config.limits.requestTimeoutMs);
      server.requestTimeout = config.limits.requestTimeoutMs;
      server.maxConnections = config.limits.maxConnections;
      server.maxHeadersCount = 100;
      const port = (server.address() as AddressInfo).port;
      const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
      let grpcPort: number | undefined;
      if (grpcServer !== undefined) {
        try {
          grpcPort = await grpcServer.listen(config.host, config.grpc.port ?? 0);
          grpcListening = true;
        } catch (error) {
          // No half-started service: HTTP closes, the source, models and workers stop.
          await service.stop();
          throw error;
        }
      }
      logger.info('listening', {
        port,
        ...(grpcPort !== undefined ? { grpcPort, grpcTls: config.grpc.tlsCert !== '' } : {}),
        store: store.uri,
        models: config.models,
        policy: config.policy,
        workers: engine.workers,
      });
      return {
        port,
        url: `http://${host}:${port}`,
        ...(grpcPort !== undefined ? { grpcPort } : {}),
      };
    },
    stop() {
      stopping ??= (async () => {
        // No new connections first, then `Connection: close` on every answer (drain.ts).
        httpDrain?.stopAccepting();
        dataPlane.startDraining();
        await rolloutController.stop();
        await source.stop();
        // Brokers stop consuming and answer what they hold (unacked messages are redelivered).
        const brokersStopped = brokers.stop();
        // gRPC drains beside HTTP: new calls are refused, in-flight ones finish.
        const grpcDrained =
          grpcServer !== undefined && grpcListening
            ? grpcServer.drain(config.drainTimeoutMs).then((outcome) => {
                if (outcome === 'timeout')
                  logger.warn('drain timeout: cancelling the remaining gRPC calls', {
                    drainTimeoutMs: config.drainTimeoutMs,
                  });
              })
            : Promise.resolve();
        if (httpDrain && (await httpDrain.drain(config.drainTimeoutMs)) === 'timeout') {
          logger.warn('drain timeout: closed the remaining connections', {
            drainTimeoutMs: config.drainTimeoutMs,
          });
        }
        await brokersStopped;
        await grpcDrained;
        // Unload through the manager first (it waits for handles), then end the workers.
        await Promise.race([
          manager.stop(),
          new Promise((resolve) => setTimeout(resolve, 5_000).unref()),
        ]);
        await engine.close();
        logger.info('stopped');
      })();
      return stopping;
    },
  };
  return service;
}
