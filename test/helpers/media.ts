export { makeTestVideo, makeGarbageVideo, lengthenVideo, retimeVideo, probe, decodeErrors, type VideoOptions, type ProbeInfo } from '../../daemon/src/devkit/media.js';
export { makeCctvVideo, placementAt, photoToFrame, type Walker, type Placement, type CctvOptions } from '../../daemon/src/devkit/cctv.js';
