// Checks the deployment files that no engine runs here: they parse, and
// they say what docs/operations.md and docs/scaling.md promise (probes on
// the right paths, non-root, resources, the image's health check; a preStop
// pause and a grace period that covers it, the drain delay and the shutdown
// timeout; an autoscaler on the Deployment; a NetworkPolicy on the pods;
// epoll workers, and only settings the service knows).
// Run by scripts/test.sh.
'use strict';
const fs = require('fs');
const path = require('path');
const yaml = require(path.join(__dirname, '../tools/docs/node_modules/js-yaml'));

const root = path.join(__dirname, '..');
const problems = [];
const check = (ok, what) => { if (!ok) problems.push(what); };
const read = (file) => fs.readFileSync(path.join(root, file), 'utf8');

const manifests = yaml.loadAll(read('deploy/kubernetes/purchases.yaml'));
const kinds = manifests.map((m) => m.kind);
check(['Deployment', 'Service', 'PodDisruptionBudget', 'HorizontalPodAutoscaler', 'NetworkPolicy']
  .every((k) => kinds.includes(k)),
'kubernetes: a Deployment, a Service, a PodDisruptionBudget, a HorizontalPodAutoscaler and a NetworkPolicy');
const deployment = manifests.find((m) => m.kind === 'Deployment') || {spec: {template: {metadata: {}, spec: {}}}};
const pod = deployment.spec.template.spec;
const container = (pod.containers || [{}])[0];
const dig = (object, ...keys) => keys.reduce((o, k) => (o == null ? undefined : o[k]), object);
check(dig(container, 'livenessProbe', 'httpGet', 'path') === '/healthz', 'kubernetes: liveness on /healthz');
check(dig(container, 'readinessProbe', 'httpGet', 'path') === '/readyz', 'kubernetes: readiness on /readyz');
check(dig(container, 'resources', 'requests', 'cpu') && dig(container, 'resources', 'requests', 'memory'),
  'kubernetes: resource requests');
check(dig(pod, 'securityContext', 'runAsNonRoot') === true, 'kubernetes: non-root');

// Stopping: preStop pause, then the drain delay, then the shutdown timeout,
// all inside the grace period (which counts from the start of preStop).
const env = Object.fromEntries((container.env || []).map((e) => [e.name, e]));
const envNumber = (name) => (env[name] && /^\d+$/.test(String(env[name].value)) ? Number(env[name].value) : NaN);
const shutdownS = envNumber('PURCHASES_SHUTDOWN_TIMEOUT_S');
const drainMs = envNumber('PURCHASES_DRAIN_DELAY_MS');
check(Number.isFinite(shutdownS), 'kubernetes: PURCHASES_SHUTDOWN_TIMEOUT_S in the container env');
check(Number.isFinite(drainMs), 'kubernetes: PURCHASES_DRAIN_DELAY_MS in the container env');
const preStop = dig(container, 'lifecycle', 'preStop') || {};
let preStopS = NaN;
if (preStop.sleep) {
  preStopS = Number(preStop.sleep.seconds);
} else {
  const command = dig(preStop, 'exec', 'command') || [];
  if (/(^|\/)sleep$/.test(command[0] || '') && command.length === 2 && /^\d+$/.test(command[1])) {
    preStopS = Number(command[1]);
  }
}
check(preStopS > 0, 'kubernetes: a preStop sleep on the container');
const graceS = pod.terminationGracePeriodSeconds;
const neededS = preStopS + Math.ceil(drainMs / 1000) + shutdownS;
check(Number.isFinite(neededS) && graceS >= neededS,
  `kubernetes: terminationGracePeriodSeconds (${graceS}) at least preStop + drain delay + shutdown timeout (${neededS})`);
const redisUrl = env.PURCHASES_REDIS_URL;
check(redisUrl && redisUrl.value === undefined && dig(redisUrl, 'valueFrom', 'secretKeyRef', 'name'),
  'kubernetes: PURCHASES_REDIS_URL from a Secret');

// Every selector selects the Deployment's pods.
const labels = deployment.spec.template.metadata.labels || {};
const selects = (selector) => selector && Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels[k] === v);
check(selects(deployment.spec.selector && deployment.spec.selector.matchLabels), 'Deployment: selects its pods');
for (const m of manifests.filter((x) => ['Service', 'PodDisruptionBudget'].includes(x.kind))) {
  check(selects(m.spec.selector.matchLabels || m.spec.selector), `${m.kind}: selects the pods`);
}

// The autoscaler scales this Deployment on CPU, and owns the count.
const hpa = manifests.find((m) => m.kind === 'HorizontalPodAutoscaler');
if (hpa) {
  const target = hpa.spec.scaleTargetRef || {};
  check(hpa.apiVersion === 'autoscaling/v2', 'HorizontalPodAutoscaler: autoscaling/v2');
  check(target.apiVersion === 'apps/v1' && target.kind === 'Deployment' &&
    target.name === deployment.metadata.name, 'HorizontalPodAutoscaler: targets the Deployment');
  check(hpa.spec.minReplicas >= 2 && hpa.spec.maxReplicas >= hpa.spec.minReplicas,
    'HorizontalPodAutoscaler: minReplicas of 2 or more, maxReplicas no lower');
  check((hpa.spec.metrics || []).some((x) => x.type === 'Resource' && dig(x, 'resource', 'name') === 'cpu' &&
    dig(x, 'resource', 'target', 'type') === 'Utilization' && dig(x, 'resource', 'target', 'averageUtilization') > 0),
  'HorizontalPodAutoscaler: a CPU utilization target');
  check(deployment.spec.replicas === undefined, 'Deployment: no replicas beside the autoscaler');
}

// Ingress to the pods only from the gateway and from monitoring, on the API port.
const policy = manifests.find((m) => m.kind === 'NetworkPolicy');
if (policy) {
  const apiPort = (container.ports || [])[0] || {};
  const rules = policy.spec.ingress || [];
  check(selects(dig(policy, 'spec', 'podSelector', 'matchLabels')), 'NetworkPolicy: selects the pods');
  check((policy.spec.policyTypes || []).includes('Ingress'), 'NetworkPolicy: an Ingress policy');
  check(rules.length > 0 && rules.every((r) => (r.from || []).length > 0 && (r.from || []).every(
    (peer) => peer.podSelector || peer.namespaceSelector)),
  'NetworkPolicy: every rule names who may connect (no rule open to all)');
  check(rules.every((r) => (r.ports || []).length > 0 && r.ports.every(
    (p) => p.port === apiPort.name || p.port === apiPort.containerPort)),
  'NetworkPolicy: every rule limited to the API port');
  check(rules.some((r) => r.from.some((peer) => !peer.namespaceSelector &&
    dig(peer, 'podSelector', 'matchLabels', 'app.kubernetes.io/name') === 'shop-gateway')),
  'NetworkPolicy: the gateway pods let in');
  check(rules.some((r) => r.from.some((peer) => peer.namespaceSelector)),
    'NetworkPolicy: the monitoring namespace let in (for /metrics)');
}

const compose = yaml.load(read('docker-compose.yml'));
check(compose.services.mongo.image.startsWith('mongo:7'), 'compose: mongo:7');
check(compose.services.purchases.environment.MONGODB_URI.includes('mongo:27017'),
  'compose: the service points at the mongo service');
// Its own curl example must answer: demo data before the service starts.
const seed = Object.entries(compose.services).find(([, svc]) =>
  (svc.entrypoint || []).includes('purchases-seed'));
check(seed !== undefined, 'compose: a service that loads the demo data');
check(seed !== undefined && compose.services.purchases.depends_on[seed[0]] &&
  compose.services.purchases.depends_on[seed[0]].condition === 'service_completed_successfully',
  'compose: the service starts after the demo data is in');

// The service ignores an environment variable it does not know, so a
// misspelt setting in a manifest would go unnoticed: every PURCHASES_ name
// there must be a row of the configuration table (app/config.c).
const known = new Set([...read('app/config.c').matchAll(/\.name = "(PURCHASES_[A-Z0-9_]+)"/g)].map((m) => m[1]));
const settings = [...Object.keys(env), ...Object.keys(compose.services.purchases.environment)]
  .filter((name) => name.startsWith('PURCHASES_'));
check(known.size > 20, 'app/config.c: the configuration table found');
for (const name of settings) {
  check(known.has(name), `deploy: ${name} is not a setting of the service (app/config.c)`);
}
check(envNumber('PURCHASES_WORKERS') >= 1 &&
  Number(compose.services.purchases.environment.PURCHASES_WORKERS) >= 1,
'deploy: epoll workers (PURCHASES_WORKERS) in the Kubernetes and compose files, as docs/caching.md advises');

const dockerfile = read('Dockerfile');
check(/^FROM debian:bookworm AS build/m.test(dockerfile), 'Dockerfile: a build stage');
check(/^FROM debian:bookworm-slim/m.test(dockerfile), 'Dockerfile: a bookworm-slim runtime');
check(/^USER 10001/m.test(dockerfile), 'Dockerfile: runs as a non-root user');
check(/^HEALTHCHECK .*--healthcheck/ms.test(dockerfile), 'Dockerfile: HEALTHCHECK with --healthcheck');
// Every library the server links (pkg_check_modules in CMakeLists.txt) is
// installed in both stages: its -dev package to build, its runtime to run.
const DEBIAN = {
  libulfius: ['libulfius-dev', 'libulfius2.7'], liborcania: ['liborcania-dev', 'liborcania2.3'],
  libyder: ['libyder-dev', 'libyder2.0'], jansson: ['libjansson-dev', 'libjansson4'],
  'libmongoc-1.0': ['libmongoc-dev', 'libmongoc-1.0-0'],
  libmicrohttpd: ['libmicrohttpd-dev', 'libmicrohttpd12'], gnutls: ['libgnutls28-dev', 'libgnutls30'],
  librhonabwy: ['librhonabwy-dev', 'librhonabwy1.1'], hiredis: ['libhiredis-dev', 'libhiredis0.14'],
  zlib: ['zlib1g-dev', 'zlib1g'], libnats: ['libnats-dev', 'libnats3.4'],
};
const [buildStage, runStage] = dockerfile.split(/^FROM debian:bookworm-slim/m);
for (const [, name] of read('CMakeLists.txt').matchAll(/pkg_check_modules\(\w+ REQUIRED IMPORTED_TARGET ([\w.-]+)\)/g)) {
  const packages = DEBIAN[name];
  check(packages !== undefined, `deploy lint knows the Debian packages of ${name}`);
  if (packages) {
    check(new RegExp(`\\b${packages[0]}\\b`).test(buildStage), `Dockerfile build stage: ${packages[0]}`);
    check(new RegExp(`\\b${packages[1].replace('.', '\\.')}\\b`).test(runStage || ''),
      `Dockerfile runtime: ${packages[1]}`);
  }
}

// The shard keys of deploy/mongodb/shard.js are the service's own table, as
// purchases-migrate --shard-keys prints it (PURCHASES_MIGRATE_BIN, given by
// scripts/test.sh; without it only the script's own table is read).
const shardScript = read('deploy/mongodb/shard.js');
const between = shardScript.split('// shard-keys:begin')[1];
let scriptKeys = null;
try {
  scriptKeys = JSON.parse(between.split('// shard-keys:end')[0]);
} catch (e) {
  check(false, 'mongodb/shard.js: a JSON table between shard-keys:begin and shard-keys:end');
}
if (scriptKeys !== null && process.env.PURCHASES_MIGRATE_BIN) {
  const output = require('child_process').execFileSync(process.env.PURCHASES_MIGRATE_BIN,
    ['--shard-keys'], {encoding: 'utf8'});
  const table = JSON.parse(output).collections;
  for (const row of table) {
    check(JSON.stringify(scriptKeys[row.collection]) === JSON.stringify(row.key),
      `mongodb/shard.js: ${row.collection} on ${JSON.stringify(row.key)} as the code says`);
  }
  check(Object.keys(scriptKeys).length === table.length,
    'mongodb/shard.js: exactly the collections of the code\'s table');
}
check(/sh\.shardCollection\(/.test(shardScript) && /createIndex\(key\)/.test(shardScript),
  'mongodb/shard.js: the hashed index, then shardCollection');

const unit = read('deploy/systemd/purchases.service');
for (const key of ['ExecStart=', 'DynamicUser=yes', 'RestartPreventExitStatus=2', 'NoNewPrivileges=yes']) {
  check(unit.includes(key), `systemd: ${key}`);
}

if (problems.length > 0) {
  console.log(problems.map((p) => `deploy lint: ${p}: missing or wrong`).join('\n'));
  process.exit(1);
}
console.log('deploy lint: 5 files valid');
