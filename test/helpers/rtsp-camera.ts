export { RtspTestCamera, startCamera, type CameraOptions } from '../../daemon/src/devkit/camera.js';
