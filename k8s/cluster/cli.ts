/**
 * `npm run cluster:up` / `npm run cluster:down`.
 *
 *   up    builds what is missing (scripts/setup-kube.mjs ran before, see package.json), starts
 *         the cluster, imports the images of scripts/build-images.mjs when they exist, writes
 *         .tools/cluster/kubeconfig and prints how to use it; the processes keep running.
 *   down  stops the cluster and restores the host (also after a killed run).
 */
import { relative } from 'node:path';
import { startCluster, stopCluster } from './cluster.ts';
import { builtImages } from './journeys.ts';

async function main(command: string | undefined): Promise<number> {
  if (command === 'up') {
    const started = Date.now();
    // --no-images: only the cluster's own images (a quicker start, e.g. for the killed-run test).
    const images = process.argv.includes('--no-images')
      ? []
      : Object.values(builtImages()).map((image) => image.archive);
    const cluster = await startCluster({
      images,
      log: (line) => console.log(`cluster: ${line}`),
    });
    const kubeconfig = relative(process.cwd(), cluster.userKubeconfig);
    console.log(
      `cluster: up in ${Math.round((Date.now() - started) / 1000)} s at ${cluster.server}`,
    );
    console.log(`  imported ${images.length} image archive(s) from ~/.cache/mscr/images`);
    console.log(`  export KUBECONFIG=${kubeconfig}`);
    console.log('  kubectl get nodes; kubectl top nodes; helm install ...');
    console.log('  npm run cluster:down   # stops it and restores the host');
    return 0;
  }
  if (command === 'down') {
    const report = await stopCluster();
    if (!report.found) console.log('cluster: nothing to tear down');
    for (const problem of report.problems) console.error(`cluster: teardown: ${problem}`);
    const slow = Object.entries(report.seconds).filter(([, s]) => s >= 1);
    if (slow.length > 0) {
      console.log(
        `cluster: slowest steps: ${slow.map(([n, s]) => `${n} ${s.toFixed(1)} s`).join(', ')}`,
      );
    }
    if (report.found && report.problems.length === 0) console.log('cluster: down, host restored');
    return report.problems.length === 0 ? 0 : 1;
  }
  console.error('usage: node --import tsx k8s/cluster/cli.ts up|down');
  return 2;
}

main(process.argv[2]).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`cluster: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
