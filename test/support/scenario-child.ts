/**
 * The child side of a test file run as a script by Namespace.run() (`ip netns exec ... file NAME`):
 * runs the scenario NAME, prints its report as one line of JSON, and fails with the error's stack.
 * Ends without process.exit on success, so that what the scenario wrote is flushed.
 */
export function runScenarioChild(scenarios: Record<string, () => Promise<unknown>>): void {
  const scenario = scenarios[process.argv[2]];
  if (!scenario) {
    process.stderr.write(`unknown scenario ${process.argv[2]}\n`);
    process.exit(2);
  }
  scenario().then(
    (report) => process.stdout.write(`${JSON.stringify(report)}\n`),
    (err: Error) => {
      process.stderr.write(`${err.stack ?? err.message}\n`);
      process.exit(1);
    },
  );
}
