#!/usr/bin/env python3
"""Seed corpora for scripts/fuzz.sh, one directory per target under OUT.

Usage: fuzz_seeds.py OUT FIXTURE_DIR...
RTSP fixtures (real cameras' replies) seed the message decoder, their bodies the SDP
parser; ONVIF replies (.xml) the ONVIF target; ffmpeg encodes a second of test pattern in H.264 and H.265, which is cut into RTP
packets (single NAL units, and FU fragments for large ones) as the depacketiser targets
read them: records of a 16-bit big-endian length and an RTP packet."""
import base64, os, struct, subprocess, sys, tempfile

out, fixture_dirs = sys.argv[1], sys.argv[2:]

def put(target, name, data):
    os.makedirs(os.path.join(out, target), exist_ok=True)
    with open(os.path.join(out, target, name), "wb") as f:
        f.write(data)

for d in fixture_dirs:
    if not os.path.isdir(d):
        continue
    for name in sorted(os.listdir(d)):
        if name.endswith(".xml"):
            put("Onvif", name, open(os.path.join(d, name), "rb").read())
            continue
        if not name.endswith(".txt"):
            continue
        data = open(os.path.join(d, name), "rb").read()
        put("RTSPMessages", name, data)
        body = data.replace(b"\r\n", b"\n").split(b"\n\n", 1)
        if len(body) == 2 and b"v=0" in body[1]:
            put("SDP", name, body[1])

def nal_units(stream):
    starts, i = [], 0
    while True:
        i = stream.find(b"\x00\x00\x01", i)
        if i < 0:
            break
        starts.append(i + 3)
        i += 3
    for a, b in zip(starts, starts[1:] + [len(stream) + 3]):
        nal = stream[a:b - 3].rstrip(b"\x00")
        if nal:
            yield nal

def rtp(seq, ts, marker, payload, pt=96):
    return struct.pack(">BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF, ts & 0xFFFFFFFF, 0x1234) + payload

def packets(codec, nals):
    seq, ts = 1, 0
    for nal in nals:
        is264 = codec == "h264"
        vcl = (nal[0] & 0x1F) in (1, 5) if is264 else ((nal[0] >> 1) & 0x3F) < 32
        if len(nal) <= 1200:
            yield rtp(seq, ts, vcl, nal); seq += 1
        else:
            head, body = (nal[:1], nal[1:]) if is264 else (nal[:2], nal[2:])
            chunks = [body[i:i + 1200] for i in range(0, len(body), 1200)]
            for k, chunk in enumerate(chunks):
                s, e = k == 0, k == len(chunks) - 1
                if is264:
                    indicator = bytes([(head[0] & 0xE0) | 28])
                    fu = bytes([(0x80 if s else 0) | (0x40 if e else 0) | (head[0] & 0x1F)])
                else:
                    indicator = bytes([(49 << 1) | (head[0] & 0x81), head[1]])
                    fu = bytes([(0x80 if s else 0) | (0x40 if e else 0) | ((head[0] >> 1) & 0x3F)])
                yield rtp(seq, ts, vcl and e, indicator + fu + chunk); seq += 1
        if vcl:
            ts += 3600

with tempfile.TemporaryDirectory() as tmp:
    for codec, encoder, target in (("h264", "libx264", "H264"), ("hevc", "libx265", "H265")):
        path = os.path.join(tmp, "clip." + codec)
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=10", "-t", "1",
                        "-c:v", encoder, "-bf", "0", "-g", "5", "-f", codec, path], check=True)
        nals = list(nal_units(open(path, "rb").read()))
        records = b"".join(struct.pack(">H", len(p)) + p for p in packets("h264" if codec == "h264" else "h265", nals))
        put(target, "clip", records[:60000])
    mp4 = os.path.join(tmp, "clip.mp4")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=5", "-t", "1",
                    "-c:v", "libx264", "-movflags", "+faststart", mp4], check=True)
    put("Boxes", "clip.mp4", open(mp4, "rb").read()[:60000])

def box(kind, body):
    return struct.pack(">I", 8 + len(body)) + kind + body
sinf = box(b"sinf", box(b"schm", b"\x00\x00\x00\x00oeff\x00\x01\x00\x00") + box(b"schi", box(b"sibo", b"\x00" * 64) + box(b"cert", b"x")))
put("Boxes", "meta", box(b"meta", b"\x00\x00\x00\x00" + box(b"suep", b"\x00" * 16) + box(b"ipro", b"\x00\x00\x00\x00\x00\x01" + sinf)))

for i, header in enumerate([b"bytes=0-99", b"bytes=100-", b"bytes=-500", b"bytes=0-9223372036854775807", b"bytes=5-1,2-3"]):
    put("Range", str(i), struct.pack(">q", 1 << 20) + header)

root = base64.b64encode(bytes(32))
put("Checkpoint", "note", b"vigil/audit\n5\n" + root + b"\n\n\xe2\x80\x94 vigil " + base64.b64encode(b"\x00" * 68) + b"\n")
put("Checkpoint", "proof", b"".join(struct.pack(">H", len(r)) + r for r in [b"\x00" * 7 + b"\x03", b"\x00" * 7 + b"\x08", bytes(32), bytes(32), bytes(32)]))
