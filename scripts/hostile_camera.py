#!/usr/bin/env python3
"""A hostile RTSP camera for Vigil's tests (issue 13): it completes the RTSP handshake
like a camera (OPTIONS, DESCRIBE, SETUP, PLAY), then attacks, a different way on each
connection, in turn:

  negative-length   a GET_PARAMETER request whose Content-Length is minus its own length
  huge-length       a reply with Content-Length: 99999999999, then silence
  endless-header    128 KiB of header lines that never end
  huge-sps          a DESCRIBE whose sprop-parameter-sets hold a 70 KB PPS
  endless-fua       an FU-A that starts and never ends (24 MB of middle fragments)
  mutated-rtp       valid-looking interleaved frames with random bytes and lengths
  scaling-list      an in-band SPS whose scaling-list delta is 2^31-1

Usage: hostile_camera.py --port PORT. Prints READY, then one line per connection:
"connection N attack NAME". Stops on SIGTERM/SIGINT.
"""
import argparse, asyncio, base64, os, random, signal, struct, sys

ATTACKS = ["negative-length", "huge-length", "endless-header", "huge-sps", "endless-fua", "mutated-rtp", "scaling-list"]
SPS = bytes.fromhex("6742c01e95a0a0fd01f1022500")  # 320x240 baseline
PPS = bytes.fromhex("68ce3c80")


def scaling_sps():
    bits = []
    def put(v, n): bits.extend((v >> i) & 1 for i in range(n - 1, -1, -1))
    def ue(v):
        x = v + 1; n = x.bit_length(); bits.extend([0] * (n - 1)); put(x, n)
    def se(v): ue(2 * v - 1 if v > 0 else -2 * v)
    put(100, 8); put(0, 8); put(40, 8); ue(0); ue(1); ue(0); ue(0); put(0, 1); put(1, 1); put(1, 1); se(2 ** 31 - 1)
    for _ in range(15): se(0)
    for _ in range(7): put(0, 1)
    ue(0); ue(0); ue(0); ue(1); put(0, 1); ue(119); ue(67); put(1, 1); put(1, 1); put(0, 1); put(0, 1); put(1, 1)
    while len(bits) % 8: bits.append(0)
    return bytes([0x67]) + bytes(int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, len(bits), 8))


def sdp(pps=PPS):
    sprop = base64.b64encode(SPS).decode() + "," + base64.b64encode(pps).decode()
    return ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=hostile\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\n"
            "a=rtpmap:96 H264/90000\r\n"
            f"a=fmtp:96 packetization-mode=1;profile-level-id=42C01E;sprop-parameter-sets={sprop}\r\n"
            "a=control:track1\r\n").encode()


def interleaved(payload, seq, ts, marker=False):
    rtp = struct.pack(">BBHII", 0x80, (0x80 if marker else 0) | 96, seq & 0xFFFF, ts & 0xFFFFFFFF, 0xBAD) + payload
    return b"$\x00" + struct.pack(">H", len(rtp)) + rtp


class Counter:
    n = 0


async def handle(reader, writer, counter):
    counter.n += 1
    number = counter.n
    attack = ATTACKS[(number - 1) % len(ATTACKS)]
    print(f"connection {number} attack {attack}", flush=True)
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode(errors="replace").split("\r\n")
            method = lines[0].split(" ")[0]
            cseq = next((l.split(":", 1)[1].strip() for l in lines if l.lower().startswith("cseq:")), "0")
            if method == "DESCRIBE":
                body = sdp(os.urandom(70_000).replace(b"\x00", b"\x01") if attack == "huge-sps" else PPS)
                writer.write(f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Type: application/sdp\r\n"
                             f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            elif method == "SETUP":
                writer.write(f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n"
                             f"Session: 1234;timeout=60\r\n\r\n".encode())
            elif method == "PLAY":
                writer.write(f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nSession: 1234\r\n\r\n".encode())
                await writer.drain()
                await attack_after_play(attack, writer)
                return
            else:
                writer.write(f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER\r\n\r\n".encode())
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def attack_after_play(attack, writer):
    seq, ts = 1, 0
    if attack == "negative-length":
        # Minus the request's own length: a decoder that trusts it moves back to where it
        # started and decodes the same request forever (the loop issue 13 reported).
        prefix = b"GET_PARAMETER * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: -"
        length = len(prefix) + 2 + 4
        writer.write(prefix + str(length).encode() + b"\r\n\r\n")
    elif attack == "huge-length":
        writer.write(b"RTSP/1.0 200 OK\r\nCSeq: 99\r\nContent-Length: 99999999999\r\n\r\n")
    elif attack == "endless-header":
        writer.write(b"RTSP/1.0 200 OK\r\n" + b"X-Junk: " + b"a" * 1000 + b"\r\n")
        for _ in range(128):
            writer.write(b"X-More: " + b"b" * 1000 + b"\r\n")
    elif attack == "endless-fua":
        writer.write(interleaved(bytes([0x7C, 0x85]) + os.urandom(1000), seq, ts))
        for i in range(24_000):
            writer.write(interleaved(bytes([0x7C, 0x05]) + os.urandom(1000), seq + 1 + i, ts))
            if i % 500 == 0:
                await writer.drain()
    elif attack == "mutated-rtp":
        for i in range(5_000):
            payload = os.urandom(random.randint(0, 1500))
            frame = interleaved(payload, seq + i, ts + 3600 * (i // 3), marker=i % 3 == 2)
            if random.random() < 0.3:
                frame = frame[:4] + os.urandom(len(frame) - 4)
            writer.write(frame)
            if i % 200 == 0:
                await writer.drain()
    elif attack == "scaling-list":
        for i, nal in enumerate([scaling_sps(), PPS, bytes([0x65, 0x88, 0x84, 0x00, 0x33, 0xFF])]):
            writer.write(interleaved(nal, seq + i, ts, marker=(i == 2)))
    elif attack == "huge-sps":
        pass  # the damage was in the DESCRIBE
    await writer.drain()
    await asyncio.sleep(15)  # then hold the connection silent


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    counter = Counter()
    server = await asyncio.start_server(lambda r, w: handle(r, w, counter), "127.0.0.1", args.port, limit=1 << 20)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for s in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(s, stop.set_result, None)
    print("READY", flush=True)
    async with server:
        await stop


if __name__ == "__main__":
    asyncio.run(main())
