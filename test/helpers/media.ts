export { makeTestVideo, lengthenVideo, probe, decodeErrors, type VideoOptions, type ProbeInfo } from '../../daemon/src/devkit/media.js';
