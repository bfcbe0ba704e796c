import { Metadata, ServiceError, status } from '@grpc/grpc-js';
import { expect } from 'chai';

import { formatGrpcError, isConnectFailure, McrCallError } from '../../clients/lib/errors';
import { resolveTarget } from '../../clients/lib/target';

/** A ServiceError as grpc-js produces it. */
function serviceError(code: status, details: string): ServiceError {
  return Object.assign(new Error(`${code} ${status[code]}: ${details}`), { code, details, metadata: new Metadata() });
}

const context = { target: 'unix:/run/mcr/mcr.sock', rpc: 'ListRules', timeoutMs: 5000 };
const hint = { hint: 'set --socket or MCR_SOCKET' };

/** What grpc-js reports when the connect to `path` fails with `errno`. */
function connectFailure(errno: string, path = '/run/mcr/mcr.sock'): McrCallError {
  return new McrCallError(
    serviceError(status.UNAVAILABLE, `No connection established. Last error: Error: connect ${errno} ${path}. Resolution note: `),
    context,
  );
}

describe('client error formatting', () => {
  it('puts the status in words before mcrd\'s message', () => {
    const err = new McrCallError(serviceError(status.INVALID_ARGUMENT, 'rule.outputs[1].port: must be 1-65535'), context);
    expect(formatGrpcError(err)).to.equal('invalid argument: rule.outputs[1].port: must be 1-65535');
    expect(formatGrpcError(serviceError(status.NOT_FOUND, 'no rule "cam9"'))).to.equal('not found: no rule "cam9"');
    expect(formatGrpcError(serviceError(status.ALREADY_EXISTS, 'x'))).to.equal('already exists: x');
    expect(formatGrpcError(serviceError(status.ABORTED, 'rule r-1 is at generation 4, not 3'))).to.equal('aborted: rule r-1 is at generation 4, not 3');
    expect(formatGrpcError(serviceError(status.FAILED_PRECONDITION, ''))).to.equal('failed precondition');
  });

  it('keeps a server-sent UNAVAILABLE and PERMISSION_DENIED as answers, not connect failures', () => {
    const shuttingDown = new McrCallError(serviceError(status.UNAVAILABLE, 'mcrd is shutting down'), context);
    expect(shuttingDown.connectFailure).to.equal(false);
    expect(formatGrpcError(shuttingDown, hint)).to.equal('unavailable: mcrd is shutting down');
    const denied = new McrCallError(serviceError(status.PERMISSION_DENIED, 'uid 1000 may not change rules'), context);
    expect(formatGrpcError(denied, hint)).to.equal('permission denied: uid 1000 may not change rules');
  });

  it('explains a missing socket with the target and the hint', () => {
    const err = connectFailure('ENOENT');
    expect(err.connectFailure).to.equal(true);
    expect(formatGrpcError(err, hint)).to.equal(
      'cannot reach mcrd at unix:/run/mcr/mcr.sock (no such socket): is mcrd running? (set --socket or MCR_SOCKET)',
    );
    expect(formatGrpcError(err)).to.equal('cannot reach mcrd at unix:/run/mcr/mcr.sock (no such socket): is mcrd running?');
  });

  it('explains a refused connection', () => {
    expect(formatGrpcError(connectFailure('ECONNREFUSED'), hint)).to.equal(
      'cannot reach mcrd at unix:/run/mcr/mcr.sock (connection refused): is mcrd running? (set --socket or MCR_SOCKET)',
    );
  });

  it('explains EACCES on the socket', () => {
    const message = formatGrpcError(connectFailure('EACCES'), hint);
    expect(message).to.equal(
      "permission denied on mcrd's socket unix:/run/mcr/mcr.sock: it admits only its owner and group (mode 0660); " +
        "run as root or as a member of the socket's group",
    );
  });

  it('tells a deadline spent connecting from one spent waiting for an answer', () => {
    const connecting = new McrCallError(serviceError(status.DEADLINE_EXCEEDED, 'Deadline exceeded after 5.001s,Waiting for LB pick'), context);
    expect(connecting.connectFailure).to.equal(true);
    expect(formatGrpcError(connecting, hint)).to.equal(
      'cannot reach mcrd at unix:/run/mcr/mcr.sock (no connection within 5000 ms): is mcrd running? (set --socket or MCR_SOCKET)',
    );
    const slow = new McrCallError(serviceError(status.DEADLINE_EXCEEDED, 'Deadline exceeded after 5.001s,remote_addr=...'), context);
    expect(slow.connectFailure).to.equal(false);
    expect(formatGrpcError(slow)).to.equal('deadline exceeded: mcrd did not answer ListRules within 5000 ms');
  });

  it('recognises connect failures in plain grpc-js errors too', () => {
    const plain = serviceError(status.UNAVAILABLE, 'No connection established. Last error: Error: connect ENOENT /x.sock. Resolution note: ');
    expect(isConnectFailure(plain)).to.equal(true);
    expect(formatGrpcError(plain)).to.equal('cannot reach mcrd (no such socket): is mcrd running?');
    expect(isConnectFailure(serviceError(status.INTERNAL, 'No connection established'))).to.equal(false);
  });

  it('formats errors that are not gRPC errors by their message', () => {
    expect(formatGrpcError(new Error('mcrd answered CreateRule without a rule'))).to.equal('mcrd answered CreateRule without a rule');
    expect(formatGrpcError('odd')).to.equal('odd');
    expect(isConnectFailure(new Error('connect ENOENT'))).to.equal(false);
  });

  it('keeps the ServiceError shape and the call context on McrCallError', () => {
    const metadata = new Metadata();
    metadata.set('x-field', 'rule.name');
    const err = new McrCallError({ code: status.INVALID_ARGUMENT, details: 'rule.name: too long', metadata }, context);
    expect(err).to.be.instanceOf(Error);
    expect(err.message).to.equal('INVALID_ARGUMENT: rule.name: too long');
    expect(err.metadata.get('x-field')).to.deep.equal(['rule.name']);
    expect([err.target, err.rpc, err.timeoutMs]).to.deep.equal(['unix:/run/mcr/mcr.sock', 'ListRules', 5000]);
  });
});

describe('client targets', () => {
  it('defaults to the default socket', () => {
    expect(resolveTarget({})).to.equal('unix:/run/mcr/mcr.sock');
  });

  it('makes socket paths absolute and passes addresses through', () => {
    expect(resolveTarget({ socket: '/tmp/mcr.sock' })).to.equal('unix:/tmp/mcr.sock');
    expect(resolveTarget({ socket: 'rel.sock' })).to.equal(`unix:${process.cwd()}/rel.sock`);
    expect(resolveTarget({ address: 'localhost:50051' })).to.equal('localhost:50051');
  });

  it('refuses both or empty targets', () => {
    expect(() => resolveTarget({ socket: '/a', address: 'b:1' })).to.throw(TypeError, 'not both');
    expect(() => resolveTarget({ socket: '' })).to.throw(TypeError);
    expect(() => resolveTarget({ address: '' })).to.throw(TypeError);
  });
});
