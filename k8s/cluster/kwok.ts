/**
 * KWOK (Kubernetes WithOut Kubelet): simulated nodes for scheduling tests (a GPU node pool on a
 * machine without GPUs). It runs on the host against the API server and manages only nodes
 * annotated `kwok.x-k8s.io/node: fake`; their pods get addresses from KWOK_POD_CIDR and the
 * nodes the address KWOK_NODE_IP, both inside the guarded pod range, so nothing sent to them
 * can leave the machine. The node and pod life-cycle stages are KWOK's own "fast" stages, read
 * from its module in the Go module cache (setup-kube.mjs downloaded it to build kwok).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KWOK_NODE_IP, KWOK_POD_CIDR } from './layout.ts';
import type { Layout } from './layout.ts';
import { startDetached } from './processes.ts';
import type { ProcessRecord } from './state.ts';

export const KWOK_MODULE = 'sigs.k8s.io/kwok@v0.8.0';
export const KWOK_ANNOTATION = 'kwok.x-k8s.io/node';
const STAGES = [
  'kustomize/stage/node/fast/node-initialize.yaml',
  'kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml',
  'kustomize/stage/pod/fast/pod-ready.yaml',
  'kustomize/stage/pod/fast/pod-complete.yaml',
  'kustomize/stage/pod/fast/pod-delete.yaml',
];

function moduleDir(): string {
  const result = spawnSync('go', ['mod', 'download', '-json', KWOK_MODULE], {
    encoding: 'utf8',
    env: { ...process.env, GOFLAGS: '' },
  });
  if (result.status !== 0) {
    throw new Error(`go mod download ${KWOK_MODULE} failed: ${result.stderr}`);
  }
  return (JSON.parse(result.stdout) as { Dir: string }).Dir;
}

export function startKwok(layout: Layout, binary: string, kubeconfig: string): ProcessRecord {
  const dir = moduleDir();
  const config = join(layout.run, 'kwok.yaml');
  writeFileSync(config, STAGES.map((f) => readFileSync(join(dir, f), 'utf8')).join('\n---\n'));
  return startDetached(layout.logs, 'kwok', binary, [
    `--kubeconfig=${kubeconfig}`,
    `--config=${config}`,
    `--manage-nodes-with-annotation-selector=${KWOK_ANNOTATION}=fake`,
    `--cidr=${KWOK_POD_CIDR}`,
    `--node-ip=${KWOK_NODE_IP}`,
  ]);
}
