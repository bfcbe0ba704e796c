/**
 * Worker process entry. Started by the supervisor through setpriv with no privilege; fd 3 is its
 * control channel. It checks that it holds no privilege and confines itself with a seccomp filter
 * (fail closed: exit 78 otherwise), then runs the native data plane for the sockets and rules the
 * supervisor sends it.
 */
import { native } from '../native';
import { probeConfinement } from './confinement-probe';
import { decode, encode, PROTOCOL_VERSION, TestHooks, WorkerEvent, WorkerReply, WorkerRequest } from './protocol';
import { privilegeProblems, readPrivileges } from './privileges';
import { WorkerRuntime } from './runtime';

const CONTROL_FD = 3;
/** EX_CONFIG: the worker refuses to run as configured (privileges left, or it cannot confine itself). */
const EXIT_PRIVILEGED = 78;
/** EX_SOFTWARE: the crash-on-start test hook. */
const EXIT_TEST_CRASH = 70;
/** How long the SIGTTIN test hook stalls the data-plane thread. */
const STALL_TEST_MS = 3000;

function main(): void {
  // The process is titled "mcrd-worker N", which `pkill -HUP mcrd` matches too: a reload signal meant
  // for the supervisor (or a terminal's hangup) must not end the data plane.
  process.on('SIGHUP', () => undefined);
  const addon = native();
  const runtime = new WorkerRuntime(
    addon,
    (event) => send(event),
    () => channel.queuedBytes(),
  );
  const channel = new addon.ControlChannel(
    CONTROL_FD,
    (data, fds) => {
      let request: WorkerRequest;
      try {
        request = decode<WorkerRequest>(data);
      } catch {
        fds.forEach((fd) => addon.closeFd(fd));
        return;
      }
      // The supervisor says which worker this is in its hello, after the privilege check and the seccomp
      // filter (which allows prctl(PR_SET_NAME), the call behind the title).
      if (request.type === 'hello') process.title = `mcrd-worker ${request.index}`;
      const reply: WorkerReply = runtime.handle(request, fds);
      send(reply);
      if (request.type === 'shutdown') setImmediate(() => exit(0));
      if (request.type === 'hello' && request.testHooks) armTestHooks(request.testHooks);
    },
    () => exit(0), // the supervisor is gone: never outlive it
  );
  function send(message: WorkerEvent | WorkerReply): void {
    channel.send(encode(message));
  }
  /**
   * Test hooks (mcrd --test-hooks only): crash at once, refuse outputs to some addresses, corrupt the
   * table on SIGUSR1/SIGUSR2, stall the data-plane thread on SIGTTIN, or on SIGWINCH try what the
   * confinement forbids and log each result.
   */
  function armTestHooks({ crashOnStart, refuseOutputsTo }: TestHooks): void {
    if (crashOnStart) {
      send({ type: 'log', level: 'warn', message: 'test hook: crashing on start' });
      setTimeout(() => exit(EXIT_TEST_CRASH), 50);
      return;
    }
    if (refuseOutputsTo) runtime.refuseOutputsTo(refuseOutputsTo);
    process.on('SIGUSR1', () => runtime.injectFault('drift'));
    process.on('SIGUSR2', () => runtime.injectFault('stuck'));
    process.on('SIGTTIN', () => runtime.stallDataplane(STALL_TEST_MS));
    process.on('SIGWINCH', () => {
      try {
        send({ type: 'log', level: 'warn', message: 'test hook: confinement probe', meta: { ...probeConfinement(addon) } });
      } catch (err) {
        send({ type: 'log', level: 'error', message: `test hook: confinement probe failed: ${(err as Error).message}` });
      }
    });
  }
  function exit(code: number): void {
    runtime.close();
    // The channel is not closed first: the supervisor kills a worker whose channel closes, and the
    // exit code it then records would be its SIGKILL rather than this code. Exiting closes it.
    process.exit(code);
  }

  const privileges = readPrivileges();
  const problems = privilegeProblems(privileges);
  if (problems.length > 0) {
    send({ type: 'fatal', message: `refusing to run with privileges: ${problems.join('; ')}` });
    setTimeout(() => exit(EXIT_PRIVILEGED), 100);
    return;
  }
  // Before 'ready': the supervisor sends no fd and no rule until then.
  try {
    addon.applyWorkerSeccomp();
  } catch (err) {
    send({ type: 'fatal', message: `cannot apply the worker's seccomp filter: ${(err as Error).message}` });
    setTimeout(() => exit(EXIT_PRIVILEGED), 100);
    return;
  }
  send({ type: 'ready', pid: process.pid, uid: privileges.uids[1], gid: privileges.gids[1], protocol: PROTOCOL_VERSION });
}

main();
