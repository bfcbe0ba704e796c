/**
 * Whether each AF_PACKET socket a process holds has kernel receive times on (SO_TIMESTAMPNS), read
 * through a duplicate of its descriptor (pidfd_getfd, Linux 5.6; root may take another process's):
 * what the supervisor set on the capture sockets it handed to a worker, seen from the worker.
 */
import { execFile } from 'child_process';
import { promisify } from 'util';

const run = promisify(execFile);

/** Prints {"fd": on, ...} for every fd of PID that is a socket listed in /proc/PID/net/packet. */
const PROBE = `
import ctypes, json, os, socket, sys
pid = int(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
SYS_pidfd_open, SYS_pidfd_getfd, SO_TIMESTAMPNS = 434, 438, 35
with open('/proc/%d/net/packet' % pid) as table:
    inodes = {line.split()[8] for line in list(table)[1:]}
pidfd = libc.syscall(SYS_pidfd_open, pid, 0)
if pidfd < 0:
    sys.exit('pidfd_open: errno %d' % ctypes.get_errno())
found = {}
for name in os.listdir('/proc/%d/fd' % pid):
    try:
        link = os.readlink('/proc/%d/fd/%s' % (pid, name))
    except OSError:
        continue
    if not (link.startswith('socket:[') and link[8:-1] in inodes):
        continue
    fd = libc.syscall(SYS_pidfd_getfd, pidfd, int(name), 0)
    if fd < 0:
        sys.exit('pidfd_getfd: errno %d' % ctypes.get_errno())
    s = socket.socket(fileno=fd)
    found[name] = s.getsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS) != 0
    s.close()
print(json.dumps(found))
`;

/** Per capture (AF_PACKET) socket of `pid`, by fd number: whether SO_TIMESTAMPNS is on. */
export async function receiveTimesOf(pid: number): Promise<Record<string, boolean>> {
  const { stdout } = await run('python3', ['-c', PROBE, String(pid)], { timeout: 10_000 });
  return JSON.parse(stdout) as Record<string, boolean>;
}
