import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CameraNetworks } from '../../../daemon/src/cameras/networks.js';
import { discoverCameras, onvifStreamUri } from '../../../daemon/src/cameras/onvif.js';
import { FakeOnvifCamera } from '../../../daemon/src/devkit/onvif-camera.js';

const RTSP = 'rtsp://127.0.0.1:8554/stream?channel=1&subtype=0';

describe('ONVIF: finding cameras and asking their RTSP address (a fake camera on loopback)', () => {
  let cam: FakeOnvifCamera;
  const loopback = new CameraNetworks(['127.0.0.0/8']);
  beforeAll(async () => {
    cam = await new FakeOnvifCamera({ rtspUrl: RTSP, name: 'Till 2 dome', credentials: { username: 'admin', password: 'cam-pass-1' } }).start();
  });
  afterAll(async () => {
    await cam.stop();
  });

  it('finds the camera by WS-Discovery, with its name and hardware from its scopes', async () => {
    const found = await discoverCameras({ networks: loopback, multicast: false, targets: [{ host: '127.0.0.1', port: cam.udpPort }], waitMs: 500 });
    expect(found).toEqual([{ xaddr: cam.xaddr, name: 'Till 2 dome', hardware: 'TestCam-1' }]);
  });

  it('keeps no answer that points outside the camera networks', async () => {
    const found = await discoverCameras({ networks: new CameraNetworks(['192.168.50.0/24']), multicast: false, targets: [{ host: '127.0.0.1', port: cam.udpPort }], waitMs: 500 });
    expect(found).toEqual([]);
  });

  it('asks GetCapabilities, GetProfiles and GetStreamUri with a WS-Security digest; wrong credentials are said in plain words', async () => {
    await expect(onvifStreamUri(cam.xaddr, { networks: loopback, timeoutMs: 3000 })).rejects.toThrow(/refused the user name or password/);
    await expect(onvifStreamUri(cam.xaddr, { networks: loopback, credentials: { username: 'admin', password: 'wrong' }, timeoutMs: 3000 })).rejects.toThrow(/refused the user name or password/);
    const r = await onvifStreamUri(cam.xaddr, { networks: loopback, credentials: { username: 'admin', password: 'cam-pass-1' }, timeoutMs: 3000 });
    expect(r).toEqual({ uri: RTSP, profile: 'profile_1' });
  });

  it('refuses device addresses outside the camera networks or not plain http', async () => {
    for (const xaddr of ['http://169.254.169.254/onvif/device_service', 'http://10.1.2.3/onvif', 'file:///etc/passwd', 'http://user:pw@127.0.0.1:1/x', 'https://127.0.0.1:1/x', 'http://localhost:1/x']) {
      await expect(onvifStreamUri(xaddr, { networks: loopback, timeoutMs: 1000 }), xaddr).rejects.toThrow(/not an http address inside the camera networks/);
    }
  });
});
