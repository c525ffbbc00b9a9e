"""Disconnect: clients that leave after 2 s cost at most the chunks already inside the model.

A JSON client and a streaming client each send a long text and hang up after 2 s. The count of
chunks the synthesizers rendered (tts_chunks_rendered_total) is printed when they leave and every
second after; it must stop growing within one chunk's time.

    ./serve.sh &
    .venv/bin/python -m load_tests.disconnect --base http://127.0.0.1:5000
"""

import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse

from load_tests.burst import TEXT, rendered_chunks

LEAVE_AFTER_S = 2.0
#: a later chunk (~300 phonemes) takes about 4 s on the 2-core CPU; a first chunk less
ONE_CHUNK_S = 6.0
WATCH_S = 20


def leaving_client(base: str, include_timestamps: bool) -> None:
    """Sends the request, reads what comes for LEAVE_AFTER_S, then closes the connection."""
    url = urllib.parse.urlsplit(base)
    body = json.dumps({"text": TEXT[:2000], "voice": "af_heart", "include_timestamps": include_timestamps})
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=LEAVE_AFTER_S)
    started = time.monotonic()
    try:
        connection.request("POST", "/tts/", body, {"Content-Type": "application/json"})
        reply = connection.getresponse()  # a stream answers after its first chunk, JSON at the end
        while time.monotonic() - started < LEAVE_AFTER_S and reply.read(4096):
            pass
    except TimeoutError:
        pass
    finally:
        connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="http://127.0.0.1:5000")
    args = parser.parse_args()

    start_count = rendered_chunks(args.base)
    clients = [threading.Thread(target=leaving_client, args=(args.base, mode)) for mode in (True, False)]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    left_at = time.monotonic()
    counts = [(0.0, rendered_chunks(args.base))]
    while (elapsed := time.monotonic() - left_at) < WATCH_S:
        time.sleep(1)
        counts.append((elapsed + 1, rendered_chunks(args.base)))
    print(f"chunks rendered before the clients came: {start_count:.0f}")
    print(f"when both had left ({LEAVE_AFTER_S:.0f} s in): {counts[0][1]:.0f}")
    print("after they left: " + ", ".join(f"+{t:.0f}s {c:.0f}" for t, c in counts[1:]))
    settled = [c for t, c in counts if t >= ONE_CHUNK_S]
    grew_late = settled[-1] - settled[0]
    print(
        f"growth after leaving: {counts[-1][1] - counts[0][1]:.0f} chunks in all, "
        f"{grew_late:.0f} after the first {ONE_CHUNK_S:.0f} s"
    )
    if grew_late > 0:
        print("FAIL: chunks were still being rendered for clients that had left")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
