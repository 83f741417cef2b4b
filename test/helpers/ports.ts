export { freePort, waitForPort } from '../../daemon/src/devkit/net.js';
