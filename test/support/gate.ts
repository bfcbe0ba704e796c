/**
 * A gate a test holds something at: `wait()` is what the code under test awaits (it resolves once
 * the test calls `open()`, rejects on `fail()`); `entered` resolves when it is first waited for;
 * `entries()` counts the waits.
 */
export interface Gate {
  wait: () => Promise<void>;
  entered: Promise<void>;
  open: () => void;
  fail: (err: Error) => void;
  entries: () => number;
}

export function gate(): Gate {
  let open!: () => void;
  let fail!: (err: Error) => void;
  let enter!: () => void;
  const opened = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  const entered = new Promise<void>((resolve) => (enter = resolve));
  let entries = 0;
  return {
    wait: () => {
      entries++;
      enter();
      return opened;
    },
    entered,
    open,
    fail,
    entries: () => entries,
  };
}

/** Whether `promise` is still pending `ms` milliseconds from now. */
export async function stillPending(promise: Promise<unknown>, ms = 20): Promise<boolean> {
  let settled = false;
  const settle = () => (settled = true);
  void promise.then(settle, settle);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return !settled;
}
