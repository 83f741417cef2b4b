#!/usr/bin/python3
"""RTSP test camera for Hindsight's tests, demo and benchmarks (GStreamer RTSP server).

Serves one H.264 stream at rtsp://127.0.0.1:PORT/PATH, either a live test pattern encoded on the fly
or a replay of a pre-encoded H.264 MPEG-TS file (no re-encode, paced in real time, not looped:
make the file as long as the camera must run; test/helpers/media.ts can lengthen one by stream copy). Prints "READY <port>" once
bound. Restart it with the same --port to bring a camera back after an outage.
"""
import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--path", default="/stream")
    p.add_argument("--mode", choices=["live", "file", "mp2t", "audio"], default="live",
                   help="file: the file's H.264 as RTP H.264; mp2t: the file's MPEG-TS itself over RTP (its own timestamps kept, as cameras that send MPEG-TS); "
                        "audio: an audio-only stream (a camera URL with no video track)")
    p.add_argument("--file", help="H.264 MPEG-TS file for --mode file or mp2t")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--fps", type=int, default=10)
    p.add_argument("--bitrate", type=int, default=500, help="kbit/s (live mode)")
    p.add_argument("--gop", type=int, default=10, help="frames between keyframes (live mode)")
    p.add_argument("--pattern", default="smpte", help="videotestsrc pattern (live mode)")
    p.add_argument("--codec", choices=["h264", "h265"], default="h264", help="live mode")
    p.add_argument("--bframes", type=int, default=0, help="B-frames between reference frames (live mode; 0: none, as most cameras)")
    p.add_argument("--audio", action="store_true", help="add an audio track (G.711 A-law) beside the video (live mode)")
    p.add_argument("--rtp-ts-offset", type=int, default=-1, help="first RTP timestamp of the video (e.g. just before the 32-bit wrap); -1: random")
    p.add_argument("--user", help="require RTSP authentication with this user")
    p.add_argument("--auth", choices=["basic", "digest"], default="basic", help="authentication scheme asked with --user")
    p.add_argument("--password", default="")
    a = p.parse_args()

    Gst.init(None)
    ts_offset = f" timestamp-offset={a.rtp_ts_offset}" if a.rtp_ts_offset >= 0 else ""
    if a.mode == "live":
        if a.codec == "h265":
            # zerolatency would turn B-frames off
            tune = "" if a.bframes else "tune=zerolatency "
            # 8-bit 4:2:0 as cameras send (left to itself x265enc negotiates 4:4:4)
            encoder = (f"videoconvert ! video/x-raw,format=I420 ! x265enc {tune}speed-preset=ultrafast bitrate={a.bitrate} key-int-max={a.gop} option-string=bframes={a.bframes} ! "
                       f"h265parse config-interval=-1 ! rtph265pay name=pay0 pt=96{ts_offset}")
        else:
            # zerolatency and ultrafast both turn B-frames off: superfast with explicit bframes keeps them
            tune = f"speed-preset=superfast bframes={a.bframes} b-adapt=false" if a.bframes else "tune=zerolatency speed-preset=ultrafast"
            # B-frames need the main profile (the payloader would otherwise accept baseline)
            profile = " ! video/x-h264,profile=main" if a.bframes else ""
            encoder = (f"x264enc {tune} bitrate={a.bitrate} key-int-max={a.gop}{profile} ! "
                       f"h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96{ts_offset}")
        audio = " audiotestsrc is-live=true ! audioconvert ! audioresample ! audio/x-raw,rate=8000,channels=1 ! alawenc ! rtppcmapay name=pay1 pt=8" if a.audio else ""
        launch = (
            f"( videotestsrc is-live=true pattern={a.pattern} ! "
            f"video/x-raw,width={a.width},height={a.height},framerate={a.fps}/1 ! "
            "clockoverlay time-format=%H:%M:%S ! "
            f"{encoder}{audio} )"
        )
    elif a.mode == "audio":
        launch = (
            "( audiotestsrc is-live=true ! audioconvert ! audioresample ! audio/x-raw,rate=8000,channels=1 ! "
            "mulawenc ! rtppcmupay name=pay0 pt=0 )"
        )
    else:
        if not a.file:
            print(f"--mode {a.mode} needs --file", file=sys.stderr)
            return 2
        if a.mode == "mp2t":
            # tsparse times the packets from the file's PCR so the server sends them in real time; one RTP
            # packet's worth of TS packets (7) per buffer, else a buffer of several frames leaves at its first one's time
            launch = f"( filesrc location={a.file} ! tsparse set-timestamps=true alignment=7 ! rtpmp2tpay name=pay0 pt=33 )"
        else:
            launch = f"( filesrc location={a.file} ! tsdemux ! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 )"

    # the server would start and answer every client 503; say which plugin is missing instead
    packages = {"clockoverlay": "gstreamer1.0-x", "x264enc": "gstreamer1.0-plugins-ugly", "h264parse": "gstreamer1.0-plugins-bad",
                "x265enc": "gstreamer1.0-plugins-bad", "h265parse": "gstreamer1.0-plugins-bad", "rtph265pay": "gstreamer1.0-plugins-good", "alawenc": "gstreamer1.0-plugins-good",
                "tsdemux": "gstreamer1.0-plugins-bad", "tsparse": "gstreamer1.0-plugins-bad", "rtpmp2tpay": "gstreamer1.0-plugins-good", "rtph264pay": "gstreamer1.0-plugins-good", "mulawenc": "gstreamer1.0-plugins-good"}
    missing = [e for e in packages if f"{e} " in launch and Gst.ElementFactory.find(e) is None]
    if missing:
        print(f"missing GStreamer elements {', '.join(missing)}: install {' '.join(sorted({packages[e] for e in missing}))}", file=sys.stderr)
        return 2

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(a.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    factory.set_shared(True)
    factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP | GstRtsp.RTSPLowerTrans.UDP)
    if a.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
        if a.auth == "digest":
            auth.add_digest(a.user, a.password, token)
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        else:
            auth.add_basic(GstRtspServer.RTSPAuth.make_basic(a.user, a.password), token)
        server.set_auth(auth)
        perms = GstRtspServer.RTSPPermissions()
        perms.add_permission_for_role("user", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, True)
        perms.add_permission_for_role("user", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, True)
        factory.set_permissions(perms)
    server.get_mount_points().add_factory(a.path, factory)
    if server.attach(None) == 0:
        print(f"cannot bind port {a.port}", file=sys.stderr)
        return 1
    print(f"READY {server.get_bound_port()}", flush=True)

    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
