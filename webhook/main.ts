// agentgate webhook entry point. client-node's generated API is kept out of the process
// (lib/client-node-slim.ts): the hook is registered first, then the webhook is loaded.
import { registerSlimClientNode } from '../lib/client-node-slim.js';

registerSlimClientNode();
await import('./run.js');
