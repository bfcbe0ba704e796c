/**
 * OpenStreams (server/api/open-streams.ts): mcrd ends every open server stream with a status at
 * shutdown. Fake calls stand in for grpc-js's: what matters is which calls get the error, once.
 */
import { ServerWritableStream, ServiceDefinition, status, UntypedServiceImplementation } from '@grpc/grpc-js';
import { expect } from 'chai';
import { EventEmitter } from 'events';

import { shuttingDown } from '../../server/api/errors';
import { OpenStreams } from '../../server/api/open-streams';

/** A server stream as OpenStreams sees it: events, and whether it is ending. */
class FakeCall extends EventEmitter {
  writableEnded = false;
  readonly errors: Array<{ code: number; details: string; message?: string }> = [];

  constructor() {
    super();
    // What grpc-js does with an 'error' emitted on a server stream: send it as the status, end.
    this.on('error', (err: { code: number; details: string }) => {
      this.errors.push(err);
      this.writableEnded = true;
    });
  }
}

const DEFINITION = {
  Watch: { responseStream: true },
  Get: { responseStream: false },
} as unknown as ServiceDefinition;

describe('open server streams', () => {
  function setup() {
    const open = new OpenStreams();
    const handled: FakeCall[] = [];
    const get = () => undefined;
    const implementation = open.apply(DEFINITION, { Watch: (call: FakeCall) => void handled.push(call), Get: get } as unknown as UntypedServiceImplementation);
    const watch = (call: FakeCall) => (implementation.Watch as (call: ServerWritableStream<unknown, unknown>) => void)(call as unknown as ServerWritableStream<unknown, unknown>);
    return { open, handled, implementation, get, watch };
  }

  it('records streaming calls while they are open, and leaves unary methods as they are', () => {
    const { open, handled, implementation, get, watch } = setup();
    expect(implementation.Get).to.equal(get);
    const [a, b, c, d] = [new FakeCall(), new FakeCall(), new FakeCall(), new FakeCall()];
    for (const call of [a, b, c, d]) watch(call);
    expect(handled).to.deep.equal([a, b, c, d]);
    expect(open.count).to.equal(4);
    a.emit('cancelled');
    b.emit('finish');
    c.emit('close');
    expect(open.count).to.equal(1);
  });

  it('ends every open stream with the error, once, and forgets them', () => {
    const { open, watch } = setup();
    const [a, b, gone] = [new FakeCall(), new FakeCall(), new FakeCall()];
    for (const call of [a, b, gone]) watch(call);
    gone.emit('cancelled');
    open.endAll(shuttingDown());
    for (const call of [a, b]) {
      // The fields of the status (the trailer with its details is checked in api-error-details.test.ts).
      const seen = call.errors.map(({ code, details, message }) => ({ code, details, message }));
      expect(seen).to.deep.equal([{ code: status.UNAVAILABLE, details: 'mcrd is shutting down', message: 'mcrd is shutting down' }]);
    }
    expect(gone.errors).to.deep.equal([]);
    expect(open.count).to.equal(0);
    open.endAll(shuttingDown());
    expect(a.errors).to.have.length(1);
  });

  it('leaves a stream that is already ending with the status it has', () => {
    const { open, watch } = setup();
    const ending = new FakeCall();
    watch(ending);
    ending.writableEnded = true;
    open.endAll(shuttingDown());
    expect(ending.errors).to.deep.equal([]);
  });
});
