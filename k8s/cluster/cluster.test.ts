/**
 * The single-node cluster, for real: containerd + runc + CNI bridge, kubelet, kube-proxy,
 * the control plane, CoreDNS, metrics-server and KWOK on this machine (root needed), and the
 * users' journeys on it. One cluster for the whole suite, started here and torn down by the
 * last tests: the groups are modules under suite/ registered in order by this one file,
 * since node:test runs each file in its own process and only one cluster can run at a time.
 * With CI set, a cluster that cannot start fails the file instead of skipping it.
 *
 * Network safety: the only addresses contacted are the cluster's own (Service and pod
 * addresses, the dummy node address), after the guard is installed, which the first test
 * checks.
 */
import { after, before, describe } from 'node:test';
import { connect, startFixture } from './suite/fixture.ts';
import { nodeTests } from './suite/node-tests.ts';
import { servingJourneys } from './suite/serving-journeys.ts';
import { retrainingJourneys } from './suite/retraining-journeys.ts';
import { chartJourneys } from './suite/chart-journeys.ts';
import { teardownTests } from './suite/teardown-tests.ts';

const fixture = await startFixture();

before(() => connect(fixture));

after(async () => {
  // Normally the teardown tests tore down already; this is for a failure half-way.
  if (fixture.cluster) await fixture.cluster.stop();
});

nodeTests(fixture);

describe(
  'user journeys on the cluster',
  { skip: fixture.skip || fixture.journeySkip || undefined },
  () => {
    servingJourneys(fixture);
    retrainingJourneys(fixture);
    chartJourneys(fixture);
  },
);

teardownTests(fixture);
