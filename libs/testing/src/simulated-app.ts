import { ProviderSimulator, type ProviderSimulatorOptions } from './simulator/provider-simulator';
import { startTestApp, type TestApp } from './test-app';

/** An app whose providers point at a running provider simulator. */
export interface SimulatedApp {
  t: TestApp;
  sim: ProviderSimulator;
  /** Closes the app, then the simulator. */
  close(): Promise<void>;
}

/** Starts the simulator, then an app with `env(simulatorUrl)` (provider keys and base URLs). */
export async function startAppWithSimulator(
  env: (simulatorUrl: string) => Record<string, string>,
  options?: ProviderSimulatorOptions,
): Promise<SimulatedApp> {
  const sim = new ProviderSimulator(options);
  const url = await sim.start();
  const t = await startTestApp(env(url));
  return {
    t,
    sim,
    close: async () => {
      await t.close();
      await sim.stop();
    },
  };
}
