// Checks the deployment files that no engine runs here: they parse, and
// they say what docs/operations.md promises (probes on the right paths,
// non-root, resources, the image's health check). Run by scripts/test.sh.
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
check(['Deployment', 'Service', 'PodDisruptionBudget'].every((k) => kinds.includes(k)),
  'kubernetes: a Deployment, a Service and a PodDisruptionBudget');
const deployment = manifests.find((m) => m.kind === 'Deployment');
const container = deployment.spec.template.spec.containers[0];
check(container.livenessProbe.httpGet.path === '/healthz', 'kubernetes: liveness on /healthz');
check(container.readinessProbe.httpGet.path === '/readyz', 'kubernetes: readiness on /readyz');
check(container.resources.requests.cpu && container.resources.requests.memory,
  'kubernetes: resource requests');
check(deployment.spec.template.spec.securityContext.runAsNonRoot === true, 'kubernetes: non-root');
check(deployment.spec.template.spec.terminationGracePeriodSeconds > 10,
  'kubernetes: grace period above PURCHASES_SHUTDOWN_TIMEOUT_S');
const labels = deployment.spec.template.metadata.labels;
for (const m of manifests.filter((x) => x.kind !== 'Deployment')) {
  const selector = m.spec.selector.matchLabels || m.spec.selector;
  check(Object.entries(selector).every(([k, v]) => labels[k] === v), `${m.kind}: selects the pods`);
}

const compose = yaml.load(read('docker-compose.yml'));
check(compose.services.mongo.image.startsWith('mongo:7'), 'compose: mongo:7');
check(compose.services.purchases.environment.MONGODB_URI.includes('mongo:27017'),
  'compose: the service points at the mongo service');

const dockerfile = read('Dockerfile');
check(/^FROM debian:bookworm AS build/m.test(dockerfile), 'Dockerfile: a build stage');
check(/^FROM debian:bookworm-slim/m.test(dockerfile), 'Dockerfile: a bookworm-slim runtime');
check(/^USER 10001/m.test(dockerfile), 'Dockerfile: runs as a non-root user');
check(/^HEALTHCHECK .*--healthcheck/ms.test(dockerfile), 'Dockerfile: HEALTHCHECK with --healthcheck');

const unit = read('deploy/systemd/purchases.service');
for (const key of ['ExecStart=', 'DynamicUser=yes', 'RestartPreventExitStatus=2', 'NoNewPrivileges=yes']) {
  check(unit.includes(key), `systemd: ${key}`);
}

if (problems.length > 0) {
  console.log(problems.map((p) => `deploy lint: ${p}: missing or wrong`).join('\n'));
  process.exit(1);
}
console.log('deploy lint: 4 files valid');
