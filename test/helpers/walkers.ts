export { defaultVisionOptions, walker, faceAt, whoIsAt, type KnownWalker } from '../../daemon/src/devkit/walkers.js';
