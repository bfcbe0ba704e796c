/**
 * The man pages of mcrd(1) and mcrctl(1): the commands and options are generated from the programs
 * that parse the command lines (server/config/options.ts, clients/mcrctl/program.ts); the prose
 * around them is here.
 */
import { DEFAULT_SOCKET, DEFAULT_STATE_DIR, daemonProgram } from '../../server/config/options';
import { programDefinition } from '../../clients/mcrctl/program';
import { ExitCode } from '../../clients/mcrctl/exit-codes';
import packageJson from '../../package.json';
import { ManPage } from './roff';

const SOURCE = `mcr ${packageJson.version}`;
const MANUAL = 'User Commands';

export function mcrdManPage(): ManPage {
  return {
    program: daemonProgram(),
    section: 1,
    source: SOURCE,
    manual: MANUAL,
    summary: 'the mcr multicast relay supervisor',
    description: [
      'mcrd captures UDP multicast below the IP stack (AF_PACKET) on the input interface of each forwarding rule, ' +
        'including streams Linux itself drops (no route back to the source, TTL 1), and sends each payload to the ' +
        "rule's outputs through ordinary UDP sockets. Rules are added, changed and removed at runtime over a gRPC API " +
        '(package mcr.v1), with mcrctl(1) or any gRPC client, and are kept in a store that survives restarts.',
      'mcrd is the only privileged process: it needs root, or CAP_NET_RAW, CAP_NET_ADMIN, CAP_SETUID, CAP_SETGID, ' +
        'CAP_SETPCAP and CAP_KILL. The packet path runs in worker processes, started as uid 65534 with no capability ' +
        'and under a seccomp filter; their process titles are "mcrd-worker N". The installation directory must be ' +
        'readable by every user, as the workers load the code from it.',
    ],
    sections: [
      {
        title: 'Signals',
        blocks: [
          {
            items: [
              ['SIGHUP', 'apply the --config file again as the desired state (the rules that did not change keep forwarding)'],
              ['SIGTERM, SIGINT', 'stop accepting calls, finish those in flight, stop the workers, leave the groups; exit within 10 s'],
            ],
          },
        ],
      },
      {
        title: 'Exit status',
        blocks: [
          {
            items: [
              ['0', 'stopped by SIGTERM or SIGINT'],
              ['1', 'could not start (the log says why), or the shutdown failed'],
              ['2', 'bad command line or config file'],
            ],
          },
        ],
      },
      {
        title: 'Files',
        blocks: [
          {
            items: [
              [DEFAULT_SOCKET, 'the default API socket (mode 0660)'],
              [`${DEFAULT_STATE_DIR}/rules.json`, 'the rule store (--state-dir): its snapshot'],
              [`${DEFAULT_STATE_DIR}/rules.journal`, 'the rule store: the changes since the snapshot'],
            ],
          },
        ],
      },
      { title: 'See also', blocks: ['mcrctl(1); docs/guide.md and docs/reference/ in the mcr package.'] },
    ],
  };
}

export function mcrctlManPage(): ManPage {
  return {
    program: programDefinition(),
    section: 1,
    source: SOURCE,
    manual: MANUAL,
    summary: 'control mcrd, the mcr multicast relay',
    description: [
      'mcrctl adds, changes and removes forwarding rules, shows counters, workers, interfaces and events, ' +
        'traces packets and manages config files of a running mcrd(1), over its gRPC API. RULE is a rule id ' +
        '(r- and 12 hex digits, unless chosen with --id) or a rule name.',
      'The options below are accepted before or after the command.',
      { example: ['mcrctl rule add --name camera1 --in eth0 239.0.0.1:5000 --out eth1 239.9.9.9:6000', 'mcrctl stats --watch', 'mcrctl trace camera1 --pcap | wireshark -k -i -'] },
    ],
    sections: [
      {
        title: 'Exit status',
        blocks: [
          {
            items: [
              [String(ExitCode.Ok), 'success'],
              [String(ExitCode.Failed), 'mcrd answered with an error (the message names the field, e.g. rule.outputs[1].port)'],
              [String(ExitCode.Usage), 'bad command line, or a config file with problems: nothing was sent'],
              [String(ExitCode.Unreachable), 'mcrd could not be reached (not running, wrong --socket or --address, or no permission on the socket)'],
            ],
          },
        ],
      },
      {
        title: 'Environment',
        blocks: [
          {
            items: [
              ['MCR_SOCKET', `mcrd's unix socket when --socket is not given (default ${DEFAULT_SOCKET})`],
              ['MCR_TOKEN_FILE', 'the bearer token file when --token-file is not given'],
            ],
          },
        ],
      },
      {
        title: 'Shell completion',
        blocks: [
          'mcrctl completion bash and mcrctl completion zsh print completion scripts that also complete rule ids and ' +
            'names and interface names from the running mcrd:',
          { example: ['source <(mcrctl completion bash)', 'mcrctl completion zsh > "${fpath[1]}/_mcrctl"'] },
        ],
      },
      { title: 'See also', blocks: ['mcrd(1); docs/reference/mcrctl.md in the mcr package.'] },
    ],
  };
}
