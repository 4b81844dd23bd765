"""The baseline of the MQTT benches: a bare gmqtt subscriber with an empty callback.

python bare_subscriber.py PORT TOPIC COUNT   -> prints the seconds from first to last
python bare_subscriber.py PORT TOPIC 0 latency -> prints receive ns of each message
"""

from __future__ import annotations

import asyncio
import sys
import time

from gmqtt import Client
from gmqtt.mqtt.constants import MQTTv50


async def main(port: int, topic: str, count: int, mode: str) -> None:
    got = 0
    first = last = 0.0
    done = asyncio.Event()
    stamps: list[str] = []

    def on_message(client: Client, t: str, payload: bytes, qos: int, props: object) -> int:
        nonlocal got, first, last
        now = time.perf_counter()
        if mode == "latency":
            stamps.append(f"{payload.decode()} {time.time_ns()}")
            return 0
        got += 1
        if got == 1:
            first = now
        if got == count:
            last = now
            done.set()
        return 0

    client = Client("bare-sub", receive_maximum=65535)
    client.on_message = on_message
    client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
    await client.connect("127.0.0.1", port, version=MQTTv50)
    print("ready", flush=True)
    if mode == "latency":
        await asyncio.sleep(float(sys.argv[5]))
        print("\n".join(stamps), flush=True)
    else:
        await asyncio.wait_for(done.wait(), timeout=300)
        print(f"{last - first:.6f}", flush=True)
    await client.disconnect()


if __name__ == "__main__":
    mode = sys.argv[4] if len(sys.argv) > 4 else "count"
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), mode))
