// Loads @kubernetes/client-node's KubeConfig without its generated API.
//
// client-node's KubeConfig module (dist/config.js) imports the generated API's index
// (dist/gen/index.js) for two names, createConfiguration and ServerConfiguration (used only
// by makeApiClient). That index loads every generated API class and model: ~23 MB of
// source and its functions on the V8 heap, ~40 of an idle operator's ~100 MB RSS. A process
// that calls the apiserver through lib/kube.ts's KubeApi needs none of it, so this resolve
// hook answers that one import with a module that re-exports the two names from the
// generated files that define them (same package, same version: makeApiClient still works).
// Any other import of the index (a module importing '@kubernetes/client-node' itself) loads
// it as usual: the hook saves memory, it never changes behaviour.
//
// Node resolves a module's imports when it is loaded, so the hook must be registered before
// anything imports client-node: an entry point calls registerSlimClientNode() and then
// imports the rest of the program dynamically (see operator/main.ts).
import module from 'node:module';

/** The module whose import of the generated index is answered here. */
const CONFIG_MODULE = '/@kubernetes/client-node/dist/config.js';
const GENERATED_INDEX = './gen/index.js';

interface ResolveContext {
  parentURL?: string;
}
interface ResolveResult {
  url: string;
  shortCircuit?: boolean;
}

/** A module that exports what config.js takes from the generated index, and nothing else. */
function configDependencies(configUrl: string): string {
  const at = (p: string) => JSON.stringify(new URL(p, configUrl).href);
  const source = `export { createConfiguration } from ${at('./gen/configuration.js')};\nexport { ServerConfiguration } from ${at('./gen/servers.js')};\n`;
  return `data:text/javascript,${encodeURIComponent(source)}`;
}

/** The resolve hook (node:module's contract, for registerHooks and register alike). */
export function resolve<R>(specifier: string, context: ResolveContext, next: (specifier: string, context: ResolveContext) => R): R | ResolveResult {
  if (specifier === GENERATED_INDEX && context.parentURL?.endsWith(CONFIG_MODULE)) {
    return { url: configDependencies(context.parentURL), shortCircuit: true };
  }
  return next(specifier, context);
}

/**
 * Registers the hook for this process: in-thread where node has module.registerHooks
 * (22.15+, the image's 24), else on node's loader thread (module.register, node 20).
 */
export function registerSlimClientNode(): void {
  const m = module as unknown as { registerHooks?: (hooks: { resolve: typeof resolve }) => void };
  if (m.registerHooks) m.registerHooks({ resolve });
  else module.register(import.meta.url);
}
