#!/usr/bin/env node
// Installs the pinned Python tools the tests use into virtual environments cached outside the
// repository, and links each one into .tools/. Plain Node, no npm dependencies. Skips all work
// for an environment whose pinned packages are already there.
//
// - .tools/venv: the stock clients the tests talk to (tritonclient's HTTP and gRPC clients,
//   and grpcio-tools for TF Serving's protos).
// - .tools/venv-kserve: the kserve Python SDK's REST and gRPC clients (stock-client tests).
// - .tools/venv-ml: what a team outside mscr trains and converts models with (scikit-learn,
//   XGBoost, skl2onnx, onnxmltools, onnx), for the `mscr models import` tests. A separate
//   environment, so the small client one stays small. `xgboost-cpu` is the XGBoost wheel
//   without the CUDA NCCL library (`xgboost` on Linux x86-64 pulls nvidia-nccl-cu12, ~200 MB);
//   it installs the same `xgboost` module.
//
// Usage: node scripts/setup-python.mjs
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync, lstatSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const ENVIRONMENTS = [
  {
    link: 'venv',
    // grpcio-tools compiles the vendored TF Serving protos into a Python client at test
    // time (what tensorflow-serving-api ships, without pulling in TensorFlow); grpcio and
    // protobuf pinned to what tritonclient[grpc] and grpcio-tools both accept.
    packages: [
      'tritonclient[http,grpc]==2.73.0',
      'numpy==2.4.6',
      'grpcio-tools==1.81.1',
      'grpcio==1.81.1',
      'protobuf==6.33.6',
    ],
    check: 'import tritonclient.http, tritonclient.grpc, grpc_tools.protoc, numpy',
  },
  {
    // The kserve Python SDK (its REST and gRPC inference clients) as a KServe user has it,
    // apart from tritonclient: its own pins of grpcio and protobuf, here the same as above.
    link: 'venv-kserve',
    packages: [
      'kserve==0.21.0',
      'numpy==2.4.6',
      'grpcio==1.81.1',
      'grpcio-tools==1.81.1',
      'protobuf==6.33.6',
    ],
    check: 'from kserve import InferenceRESTClient, InferenceGRPCClient; import grpc_tools.protoc',
  },
  {
    link: 'venv-ml',
    packages: [
      'numpy==2.4.6',
      'scikit-learn==1.9.1',
      'xgboost-cpu==3.2.0',
      'onnx==1.23.2',
      'skl2onnx==1.20.0',
      'onnxmltools==1.16.0',
      // onnxmltools imports it without declaring it.
      'packaging==26.4',
    ],
    check: 'import numpy, sklearn, xgboost, onnx, skl2onnx, onnxmltools.convert',
  },
  {
    // The reference the detection metrics (model/evaluation/detection.ts) are checked with.
    link: 'venv-eval',
    packages: ['numpy==2.4.6', 'pycocotools==2.0.11'],
    check: 'import numpy, pycocotools.cocoeval',
  },
];
const root = new URL('..', import.meta.url).pathname;
const cache = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mscr', 'python');

function run(command, args) {
  const result = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.error?.code === 'ENOENT') {
    console.error(
      `setup-python: ${command} is not on PATH; install Python 3.11 or newer and re-run.`,
    );
    process.exit(1);
  }
  if (result.status !== 0) {
    console.error(
      `setup-python: ${command} ${args.join(' ')} failed:\n${(result.stderr || result.stdout).split('\n').slice(-20).join('\n')}`,
    );
    process.exit(1);
  }
  return result.stdout;
}

function lstatExists(path) {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

for (const { link: name, packages, check } of ENVIRONMENTS) {
  const key = packages.join(' ').replace(/[^\w.=-]+/g, '_');
  const venv = join(cache, key);
  const link = join(root, '.tools', name);
  const python = join(venv, 'bin', 'python');
  const installed =
    existsSync(python) && spawnSync(python, ['-c', check], { stdio: 'ignore' }).status === 0;
  if (installed) {
    console.log(`python ${packages.join(', ')}: already installed (${venv})`);
  } else {
    const started = Date.now();
    console.log(`python ${packages.join(', ')}: installing into ${venv} ...`);
    rmSync(venv, { recursive: true, force: true });
    mkdirSync(venv, { recursive: true });
    run('python3', ['-m', 'venv', venv]);
    run(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', ...packages]);
    console.log(
      `python ${packages.join(', ')}: done in ${Math.round((Date.now() - started) / 1000)} s`,
    );
  }
  mkdirSync(join(root, '.tools'), { recursive: true });
  if (existsSync(link) || lstatExists(link)) rmSync(link, { force: true, recursive: false });
  symlinkSync(venv, link);
}
