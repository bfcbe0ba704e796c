/**
 * The deployment files are real: the systemd unit passes `systemd-analyze verify` (Debian's systemd
 * package), the DaemonSet manifest is valid YAML (python3-yaml) with what a relay needs, both start
 * mcrd with flags it accepts and grant it the same capabilities, and the manifest's health probe
 * passes or fails against a grpc.health.v1 server as it should. Missing tools fail the tests.
 */
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { expect } from 'chai';
import { execFile, spawnSync } from 'child_process';
import fs from 'fs';
import { HealthImplementation } from 'grpc-health-check';
import os from 'os';
import path from 'path';

import { parseDaemonArgs } from '../../server/config/options';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const UNIT_FILE = path.join(REPO_ROOT, 'deploy', 'systemd', 'mcrd.service');
const MANIFEST_FILE = path.join(REPO_ROOT, 'deploy', 'kubernetes', 'mcrd-daemonset.yaml');

/** Where both deployments expect the `npm ci` checkout. */
const INSTALL_DIR = '/opt/mcr';
const SOCKET = '/run/mcr/mcr.sock';
const STATE_DIR = '/var/lib/mcr';
/** What mcrd needs (see the unit's header): capture, forced buffers, starting workers as nobody, signalling them. */
const CAPABILITIES = ['NET_ADMIN', 'NET_RAW', 'KILL', 'SETGID', 'SETPCAP', 'SETUID', 'BPF'];

/** Runs a tool to completion; fails with a hint when the tool itself is missing. */
function run(file: string, args: string[], missingHint: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(file, args, { encoding: 'utf8', timeout: 20_000 });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') throw new Error(`${file} not found: ${missingHint}`);
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

// ---- systemd -----------------------------------------------------------------------------------

/** A unit file as section -> key -> values (a key given several times keeps every value). */
type UnitFile = Map<string, Map<string, string[]>>;

function parseUnit(text: string): UnitFile {
  const unit: UnitFile = new Map();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = new Map();
      unit.set(header[1], section);
      continue;
    }
    const eq = line.indexOf('=');
    if (!section || eq < 0) throw new Error(`unexpected line in unit file: ${raw}`);
    const key = line.slice(0, eq);
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1)]);
  }
  return unit;
}

function single(unit: UnitFile, section: string, key: string): string {
  const values = unit.get(section)?.get(key) ?? [];
  expect(values, `[${section}] ${key}`).to.have.lengthOf(1);
  return values[0];
}

function capabilitySet(value: string): string[] {
  return value.split(/\s+/).map((cap) => cap.replace(/^CAP_/, '')).sort();
}

// ---- Kubernetes --------------------------------------------------------------------------------

/** Every document of a YAML file, parsed by PyYAML's safe loader (aliases expanded). */
function loadYamlDocuments(file: string): any[] {
  const script = 'import json, sys, yaml\nwith open(sys.argv[1]) as f:\n    json.dump(list(yaml.safe_load_all(f)), sys.stdout)';
  const result = run('python3', ['-c', script, file], 'install python3 and python3-yaml');
  if (result.status !== 0) throw new Error(`python3 could not load ${file} as YAML:\n${result.stderr}`);
  return JSON.parse(result.stdout) as any[];
}

/** Runs `argv`, resolving with its exit code and output (never rejecting on a non-zero exit). */
function exitOf(argv: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    execFile(argv[0], argv.slice(1), { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code as number | null) ?? null : 0;
      resolve({ code: typeof code === 'number' ? code : null, output: stdout + stderr });
    });
  });
}

describe('deployment files', function () {
  this.timeout(30_000);

  describe('systemd unit (deploy/systemd/mcrd.service)', () => {
    const text = fs.readFileSync(UNIT_FILE, 'utf8');
    const unit = parseUnit(text);

    it('passes systemd-analyze verify, with ExecStart pointed at this checkout', () => {
      // The unit names /opt/mcr, which does not exist here; verify a copy that runs this checkout's
      // bin/mcrd instead, so the executable check is real and every other line is the unit's own.
      const execStart = single(unit, 'Service', 'ExecStart');
      expect(execStart.startsWith(`${INSTALL_DIR}/bin/mcrd `), execStart).to.equal(true);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-unit-'));
      try {
        const copy = path.join(dir, 'mcrd.service');
        fs.writeFileSync(copy, text.replace(`ExecStart=${INSTALL_DIR}/bin/mcrd `, `ExecStart=${REPO_ROOT}/bin/mcrd `));
        const result = run('systemd-analyze', ['verify', '--man=no', copy], "install Debian's systemd package");
        expect(result.stderr.trim(), 'systemd-analyze verify output').to.equal('');
        expect(result.status, 'systemd-analyze verify exit status').to.equal(0);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('systemd-analyze verify reports a misspelt directive and a missing executable (the check above can fail)', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-unit-'));
      try {
        const copy = path.join(dir, 'mcrd.service');
        const broken = text.replace('ProtectSystem=strict', 'ProtectSytem=strict');
        fs.writeFileSync(copy, broken.replace(`ExecStart=${INSTALL_DIR}/bin/mcrd `, `ExecStart=${REPO_ROOT}/bin/mcrd `));
        const misspelt = run('systemd-analyze', ['verify', '--man=no', copy], "install Debian's systemd package");
        expect(misspelt.stderr).to.contain("Unknown key 'ProtectSytem'");
        fs.writeFileSync(copy, text.replace(`ExecStart=${INSTALL_DIR}/bin/mcrd `, `ExecStart=${dir}/no-such-mcrd `));
        const missing = run('systemd-analyze', ['verify', '--man=no', copy], "install Debian's systemd package");
        expect(missing.status).to.not.equal(0);
        expect(missing.stderr).to.contain('no-such-mcrd');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('starts mcrd with flags it accepts, on the runtime and state directories systemd creates', () => {
      const [, ...args] = single(unit, 'Service', 'ExecStart').split(/\s+/);
      const options = parseDaemonArgs(args);
      expect(options.listen).to.deep.equal([{ kind: 'unix', path: SOCKET }]);
      expect(path.dirname(SOCKET)).to.equal(`/run/${single(unit, 'Service', 'RuntimeDirectory')}`);
      expect(options.stateDir).to.equal(`/var/lib/${single(unit, 'Service', 'StateDirectory')}`);
      expect(single(unit, 'Service', 'RuntimeDirectoryMode')).to.equal('0750');
    });

    it('grants exactly the capabilities mcrd needs, and reloads with SIGHUP', () => {
      expect(capabilitySet(single(unit, 'Service', 'CapabilityBoundingSet'))).to.deep.equal([...CAPABILITIES].sort());
      expect(capabilitySet(single(unit, 'Service', 'AmbientCapabilities'))).to.deep.equal([...CAPABILITIES].sort());
      expect(single(unit, 'Service', 'ExecReload')).to.equal('/bin/kill -HUP $MAINPID');
      expect(single(unit, 'Service', 'Type')).to.equal('simple');
      expect(single(unit, 'Service', 'Restart')).to.equal('on-failure');
    });

    it('is hardened, without what V8 or the capture sockets cannot live with', () => {
      const service = unit.get('Service')!;
      for (const [key, value] of [
        ['NoNewPrivileges', 'yes'],
        ['ProtectSystem', 'strict'],
        ['ProtectHome', 'yes'],
        ['PrivateTmp', 'yes'],
        ['LockPersonality', 'yes'],
        ['SystemCallArchitectures', 'native'],
      ]) {
        expect(service.get(key), key).to.deep.equal([value]);
      }
      const families = single(unit, 'Service', 'RestrictAddressFamilies').split(/\s+/);
      expect(families).to.include.members(['AF_UNIX', 'AF_INET', 'AF_NETLINK', 'AF_PACKET']);
      expect(service.has('MemoryDenyWriteExecute'), 'MemoryDenyWriteExecute breaks the V8 JIT').to.equal(false);
      expect(service.has('PrivateNetwork'), 'PrivateNetwork hides the host interfaces').to.equal(false);
      expect(service.has('User'), 'mcrd runs as root with a reduced bounding set').to.equal(false);
    });
  });

  describe('Kubernetes DaemonSet (deploy/kubernetes/mcrd-daemonset.yaml)', () => {
    let documents: any[];
    let daemonSet: any;
    let pod: any;
    let container: any;

    before(() => {
      documents = loadYamlDocuments(MANIFEST_FILE);
      daemonSet = documents.find((d) => d?.kind === 'DaemonSet');
      expect(daemonSet, 'a DaemonSet document').to.not.equal(undefined);
      pod = daemonSet.spec.template.spec;
      expect(pod.containers).to.have.lengthOf(1);
      container = pod.containers[0];
    });

    it('is a DaemonSet in a namespace the manifest creates, selecting its own pods', () => {
      expect(daemonSet.apiVersion).to.equal('apps/v1');
      const namespace = documents.find((d) => d?.kind === 'Namespace');
      expect(namespace?.metadata?.name).to.equal(daemonSet.metadata.namespace);
      const labels = daemonSet.spec.template.metadata.labels;
      for (const [key, value] of Object.entries(daemonSet.spec.selector.matchLabels)) expect(labels[key], key).to.equal(value);
    });

    it("runs on the host's network", () => {
      expect(pod.hostNetwork).to.equal(true);
      expect(pod.dnsPolicy).to.equal('ClusterFirstWithHostNet');
    });

    it('drops every capability and adds back exactly those mcrd needs, the same as the systemd unit', () => {
      const security = container.securityContext;
      expect(security.capabilities.drop).to.deep.equal(['ALL']);
      expect([...security.capabilities.add].sort()).to.deep.equal([...CAPABILITIES].sort());
      expect(security.privileged).to.equal(false);
      expect(security.allowPrivilegeEscalation).to.equal(false);
      expect(security.runAsUser).to.equal(0);
    });

    it('starts mcrd with flags it accepts, socket and state on host paths', () => {
      const [file, ...args] = container.command as string[];
      expect(file).to.equal(`${INSTALL_DIR}/bin/mcrd`);
      const options = parseDaemonArgs(args);
      expect(options.listen).to.deep.equal([{ kind: 'unix', path: SOCKET }]);
      expect(options.stateDir).to.equal(STATE_DIR);
      const hostPathOf = (mountPath: string): string | undefined => {
        const mount = (container.volumeMounts as any[]).find((m) => m.mountPath === mountPath);
        return (pod.volumes as any[]).find((v) => v.name === mount?.name)?.hostPath?.path;
      };
      expect(hostPathOf(STATE_DIR), 'state on a host path').to.equal(STATE_DIR);
      expect(hostPathOf(path.dirname(SOCKET)), 'the socket directory on a host path').to.equal(path.dirname(SOCKET));
    });

    it('has startup, readiness and liveness probes running the same health check, and resource bounds', () => {
      const command = container.startupProbe.exec.command;
      expect(command.slice(0, 2)).to.deep.equal(['node', '-e']);
      expect(container.readinessProbe.exec.command).to.deep.equal(command);
      expect(container.livenessProbe.exec.command).to.deep.equal(command);
      for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
        expect(container[probe].timeoutSeconds, `${probe}.timeoutSeconds`).to.be.a('number');
      }
      expect(container.resources.requests.cpu).to.be.a('string');
      expect(container.resources.requests.memory).to.be.a('string');
      expect(container.resources.limits.memory).to.be.a('string');
    });

    describe('the health probe, run against a grpc.health.v1 server', () => {
      let dir: string;
      let server: Server;
      let health: HealthImplementation;
      let probe: string[];

      before(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-probe-'));
        const socket = path.join(dir, 'mcr.sock');
        // The probe as the kubelet runs it, with this checkout for /opt/mcr and a test socket.
        const [node, flag, script] = container.readinessProbe.exec.command as string[];
        for (const needle of [`'${INSTALL_DIR}/node_modules/'`, `'unix:${SOCKET}'`]) {
          expect(script.split(needle), `${needle} once in the probe`).to.have.lengthOf(2);
        }
        const local = script
          .replace(`'${INSTALL_DIR}/node_modules/'`, `'${REPO_ROOT}/node_modules/'`)
          .replace(`'unix:${SOCKET}'`, `'unix:${socket}'`);
        probe = [node === 'node' ? process.execPath : node, flag, local];
        health = new HealthImplementation({ '': 'NOT_SERVING' });
        server = new Server();
        health.addToServer(server);
        await new Promise<void>((resolve, reject) =>
          server.bindAsync(`unix:${socket}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
        );
      });

      after(() => {
        server?.forceShutdown();
        fs.rmSync(dir, { recursive: true, force: true });
      });

      it('passes when mcrd is SERVING', async () => {
        health.setStatus('', 'SERVING');
        const { code, output } = await exitOf(probe, 10_000);
        expect(code, output).to.equal(0);
        expect(output).to.contain('SERVING');
      });

      it('fails while mcrd is NOT_SERVING (starting or shutting down)', async () => {
        health.setStatus('', 'NOT_SERVING');
        const { code, output } = await exitOf(probe, 10_000);
        expect(code, output).to.equal(1);
        expect(output).to.contain('NOT_SERVING');
      });

      it('fails when nothing listens on the socket', async () => {
        server.forceShutdown();
        const { code, output } = await exitOf(probe, 10_000);
        expect(code, output).to.equal(1);
        expect(output).to.match(/mcrd health: .*(UNAVAILABLE|No connection|ENOENT|ECONNREFUSED)/i);
      });
    });
  });
});
