/**
 * A classic BPF checker and interpreter for the unit tests, written from the kernel's documented
 * semantics (Documentation/networking/filter.rst, net/core/filter.c) independently of the code that
 * generates programs, so that running a generated filter here tells whether the kernel would load it
 * and what it would return for a frame.
 *
 * Covers the whole classic instruction set and two ancillary loads (pkttype, VLAN tag present),
 * which the frame's metadata supplies. A load beyond the frame ends the program with 0, as in the
 * kernel. Anything else the kernel would refuse, or that this interpreter does not model, throws.
 */
import type { BpfInsn } from '../../native';

export const BPF_MAXINSNS = 4096;
const BPF_MEMWORDS = 16;
const SKF_AD_OFF = 0x1_0000_0000 - 0x1000;
const SKF_AD_PKTTYPE = 4;
const SKF_AD_VLAN_TAG = 44;
const SKF_AD_VLAN_TAG_PRESENT = 48;

/** Packet types (linux/if_packet.h). */
export const PACKET_HOST = 0;
export const PACKET_MULTICAST = 2;
export const PACKET_OUTGOING = 4;

export interface FrameMeta {
  /** skb->pkt_type as AF_PACKET reports it; default PACKET_MULTICAST. */
  pkttype?: number;
  /** The tag control field of the VLAN tag the kernel took out of the frame into its metadata (absent: none). */
  vlanTag?: number;
}

export interface FilterRun {
  /** The program's return value: 0 drops, anything else keeps that many bytes. */
  verdict: number;
  /** Instructions executed. */
  steps: number;
}

export class BpfCheckError extends Error {}

const cls = (code: number) => code & 0x07;
const size = (code: number) => code & 0x18;
const mode = (code: number) => code & 0xe0;
const op = (code: number) => code & 0xf0;
const src = (code: number) => code & 0x08;

const LD = 0x00, LDX = 0x01, ST = 0x02, STX = 0x03, ALU = 0x04, JMP = 0x05, RET = 0x06, MISC = 0x07;
const W = 0x00, H = 0x08, B = 0x10;
const IMM = 0x00, ABS = 0x20, IND = 0x40, MEM = 0x60, LEN = 0x80, MSH = 0xa0;
const ADD = 0x00, SUB = 0x10, MUL = 0x20, DIV = 0x30, OR = 0x40, AND = 0x50, LSH = 0x60, RSH = 0x70, NEG = 0x80, MOD = 0x90, XOR = 0xa0;
const JA = 0x00, JEQ = 0x10, JGT = 0x20, JGE = 0x30, JSET = 0x40;
const X = 0x08;
const RET_A = 0x10;
const TXA = 0x80;

const BYTES: Record<number, number> = { [W]: 4, [H]: 2, [B]: 1 };

/** Successors of instruction `pc` (forward only). */
function successors(program: BpfInsn[], pc: number): number[] {
  const [code, jt, jf, k] = program[pc];
  if (cls(code) === RET) return [];
  if (cls(code) !== JMP) return [pc + 1];
  if (op(code) === JA) return [pc + 1 + k];
  return [pc + 1 + jt, pc + 1 + jf];
}

function isKnownOpcode(code: number): boolean {
  if (code > 0xff) return false;
  switch (cls(code)) {
    case LD:
      if (mode(code) === ABS || mode(code) === IND) return size(code) in BYTES;
      return [IMM, MEM, LEN].includes(mode(code)) && size(code) === W;
    case LDX:
      if (mode(code) === MSH) return size(code) === B;
      return [IMM, MEM, LEN].includes(mode(code)) && size(code) === W;
    case ST:
    case STX:
      return code === cls(code);
    case ALU:
      if (op(code) === NEG) return src(code) !== X;
      return [ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, MOD, XOR].includes(op(code));
    case JMP:
      if (op(code) === JA) return src(code) !== X;
      return [JEQ, JGT, JGE, JSET].includes(op(code));
    case RET:
      return code === (RET | 0x00) || code === (RET | RET_A);
    case MISC:
      return code === (MISC | 0x00) || code === (MISC | TXA);
  }
  return false;
}

/** Refuses what the kernel's bpf_check_classic refuses (and what does not fit a struct sock_filter). */
export function checkProgram(program: BpfInsn[]): void {
  const n = program.length;
  if (n < 1 || n > BPF_MAXINSNS) throw new BpfCheckError(`length ${n} is not 1-${BPF_MAXINSNS}`);
  program.forEach(([code, jt, jf, k], pc) => {
    const at = `insn ${pc} [${code}, ${jt}, ${jf}, ${k}]`;
    const fits = (v: number, max: number) => Number.isInteger(v) && v >= 0 && v <= max;
    if (!fits(code, 0xffff) || !fits(jt, 0xff) || !fits(jf, 0xff) || !fits(k, 0xffffffff)) {
      throw new BpfCheckError(`${at}: a field does not fit struct sock_filter`);
    }
    if (!isKnownOpcode(code)) throw new BpfCheckError(`${at}: unknown opcode`);
    const memoryAccess = (cls(code) === LD || cls(code) === LDX) && mode(code) === MEM;
    if ((memoryAccess || cls(code) === ST || cls(code) === STX) && k >= BPF_MEMWORDS) {
      throw new BpfCheckError(`${at}: scratch slot out of range`);
    }
    if (cls(code) === ALU && src(code) !== X && (op(code) === DIV || op(code) === MOD) && k === 0) {
      throw new BpfCheckError(`${at}: division by constant 0`);
    }
    if (cls(code) === ALU && src(code) !== X && (op(code) === LSH || op(code) === RSH) && k >= 32) {
      throw new BpfCheckError(`${at}: shift by ${k}`);
    }
    for (const target of successors(program, pc)) {
      if (target >= n) throw new BpfCheckError(`${at}: jumps to ${target}, past the end (${n})`);
    }
  });
  if (cls(program[n - 1][0]) !== RET) throw new BpfCheckError('the last instruction is not a return');
  checkScratchInitialized(program);
}

/** Like the kernel's check_load_and_stores: a scratch slot is read only after every path wrote it. */
function checkScratchInitialized(program: BpfInsn[]): void {
  const ALL = (1 << BPF_MEMWORDS) - 1;
  const written = new Array<number>(program.length).fill(ALL);
  written[0] = 0;
  program.forEach(([code, , , k], pc) => {
    let mask = written[pc];
    if (cls(code) === ST || cls(code) === STX) mask |= 1 << k;
    if ((cls(code) === LD || cls(code) === LDX) && mode(code) === MEM && !(mask & (1 << k))) {
      throw new BpfCheckError(`insn ${pc}: reads scratch slot ${k} that may be unset`);
    }
    for (const target of successors(program, pc)) written[target] &= mask;
  });
}

class OutOfFrame extends Error {}

function load(frame: Buffer, offset: number, bytes: number): number {
  if (offset < 0 || offset + bytes > frame.length) throw new OutOfFrame();
  return bytes === 4 ? frame.readUInt32BE(offset) : bytes === 2 ? frame.readUInt16BE(offset) : frame[offset];
}

function ancillary(k: number, meta: FrameMeta): number {
  switch (k - SKF_AD_OFF) {
    case SKF_AD_PKTTYPE:
      return meta.pkttype ?? PACKET_MULTICAST;
    case SKF_AD_VLAN_TAG_PRESENT:
      return meta.vlanTag === undefined ? 0 : 1;
    case SKF_AD_VLAN_TAG:
      return meta.vlanTag ?? 0;
    default:
      throw new BpfCheckError(`ancillary load SKF_AD_OFF + ${k - SKF_AD_OFF} is not modelled`);
  }
}

function aluResult(operation: number, a: number, operand: number): number | undefined {
  switch (operation) {
    case ADD: return (a + operand) >>> 0;
    case SUB: return (a - operand) >>> 0;
    case MUL: return Math.imul(a, operand) >>> 0;
    case DIV: return operand === 0 ? undefined : Math.floor(a / operand) >>> 0;
    case MOD: return operand === 0 ? undefined : a % operand >>> 0;
    case OR: return (a | operand) >>> 0;
    case AND: return (a & operand) >>> 0;
    case XOR: return (a ^ operand) >>> 0;
    case LSH: return operand >= 32 ? 0 : (a << operand) >>> 0;
    case RSH: return operand >= 32 ? 0 : a >>> operand;
    case NEG: return -a >>> 0;
  }
  throw new BpfCheckError(`ALU operation ${operation}`);
}

function jumpTaken(operation: number, a: number, operand: number): boolean {
  switch (operation) {
    case JEQ: return a === operand;
    case JGT: return a > operand;
    case JGE: return a >= operand;
    case JSET: return (a & operand) !== 0;
  }
  throw new BpfCheckError(`jump operation ${operation}`);
}

/** A program the checker accepted, as attached to a socket. */
export interface LoadedFilter {
  /** Runs the program on `frame` (starting at the Ethernet header). */
  run(frame: Buffer, meta?: FrameMeta): FilterRun;
}

/** Checks `program` like SO_ATTACH_FILTER does, and returns it ready to run on frames. */
export function loadFilter(program: BpfInsn[]): LoadedFilter {
  checkProgram(program);
  const insns = program.map((insn): BpfInsn => [...insn]);
  return { run: (frame, meta = {}) => execute(insns, frame, meta) };
}

function execute(program: BpfInsn[], frame: Buffer, meta: FrameMeta): FilterRun {
  let a = 0;
  let x = 0;
  const memory = new Array<number>(BPF_MEMWORDS).fill(0);
  let steps = 0;
  try {
    for (let pc = 0; ; pc++) {
      const [code, jt, jf, k] = program[pc];
      steps++;
      switch (cls(code)) {
        case LD:
          switch (mode(code)) {
            case ABS: a = k >= SKF_AD_OFF ? ancillary(k, meta) : load(frame, k, BYTES[size(code)]); break;
            case IND: a = load(frame, (x + k) >>> 0, BYTES[size(code)]); break;
            case IMM: a = k; break;
            case MEM: a = memory[k]; break;
            case LEN: a = frame.length; break;
          }
          break;
        case LDX:
          switch (mode(code)) {
            case MSH: x = (load(frame, k, 1) & 0x0f) * 4; break;
            case IMM: x = k; break;
            case MEM: x = memory[k]; break;
            case LEN: x = frame.length; break;
          }
          break;
        case ST: memory[k] = a; break;
        case STX: memory[k] = x; break;
        case ALU: {
          const result = aluResult(op(code), a, src(code) === X ? x : k);
          if (result === undefined) return { verdict: 0, steps }; // division by X = 0
          a = result;
          break;
        }
        case JMP:
          if (op(code) === JA) pc += k;
          else pc += jumpTaken(op(code), a, src(code) === X ? x : k) ? jt : jf;
          break;
        case RET: return { verdict: (code & 0x18) === RET_A ? a : k, steps };
        case MISC: if (code & TXA) a = x; else x = a; break;
      }
    }
  } catch (err) {
    if (err instanceof OutOfFrame) return { verdict: 0, steps };
    throw err;
  }
}
