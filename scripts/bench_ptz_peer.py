#!/usr/bin/env python3
"""The peer of `vigil bench ptz`: onvif-zeep-async (PyPI; a client Vigil did not write)
sending ContinuousMove straight to the simulated dome the benchmark serves, each timed
from request to reply. Prints a JSON line {"p50": s, "p99": s, "max": s} last.

Usage: bench_ptz_peer.py --port ONVIF_PORT --moves N (run by `vigil bench ptz`)."""

import argparse
import asyncio
import json
import time


async def main(port, moves):
    from onvif import ONVIFCamera

    camera = ONVIFCamera("127.0.0.1", port, "bench", "bench pass 1", adjust_time=True)
    await camera.update_xaddrs()
    ptz = await camera.create_ptz_service()
    timings = []
    for i in range(moves):
        pan = 0.3 if i % 2 == 0 else -0.3
        started = time.perf_counter()
        await ptz.ContinuousMove({"ProfileToken": "main", "Velocity": {"PanTilt": {"x": pan, "y": 0.0}, "Zoom": {"x": 0.0}},
                                  "Timeout": "PT5S"})
        timings.append(time.perf_counter() - started)
    await ptz.Stop({"ProfileToken": "main", "PanTilt": True, "Zoom": True})
    await camera.close()
    timings.sort()
    print(json.dumps({"p50": timings[len(timings) // 2], "p99": timings[min(len(timings) - 1, int(len(timings) * 0.99))],
                      "max": timings[-1]}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--moves", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(main(args.port, args.moves))
