"""Voice agents on /tts/websocket: 8 sessions at once, each a 5-turn conversation whose replies
arrive as an LLM writes them (about 30 tokens a second), as pipecat's token mode sends them.

Per turn, the first audio is timed from the moment the reply's first sentence was complete (its
closing mark sent): what a caller waits between the agent starting to answer and hearing it. A
session plays each reply out in real time and answers a second later, as a caller does, so each
speaking agent asks for about one second of audio per second.
Goals: every turn ends with `done` and no error, and its words come back in order.

    ./serve.sh &                                  # the README's start command, default settings
    .venv/bin/python -m load_tests.agents --base http://127.0.0.1:5000

Prints first-audio p50/p95 over all turns and the audio spoken, and exits 1 when a goal fails.
Sends only to the given local server, a bounded number of turns, and stops by itself.
"""

import argparse
import asyncio
import base64
import json
import statistics
import sys
import time
from dataclasses import dataclass, field

import aiohttp

from engine.audio import SAMPLE_RATE
from load_tests.texts import SENTENCES
from tests.live import llm_tokens

#: a turn's reply: two or three sentences, as agents answer
SENTENCES_PER_TURN = (2, 3, 2, 3, 2)
#: words whose full stop ends no sentence, in SENTENCES
ABBREVIATIONS = frozenset({"Dr", "Mr", "Mrs", "St"})
#: how long the caller takes to answer once the reply has played
USER_REPLY_S = 1.0
#: a bound on one turn, so that a stuck server fails the run rather than hanging it
TURN_LIMIT_S = 120.0


@dataclass
class Turn:
    session: int
    number: int
    text: str
    first_audio_s: float | None = None
    audio_s: float = 0.0
    words: list[str] = field(default_factory=list)
    error: str | None = None


def reply(session: int, number: int) -> str:
    count = SENTENCES_PER_TURN[number % len(SENTENCES_PER_TURN)]
    start = (session * 7 + number * 3) % len(SENTENCES)
    return " ".join(SENTENCES[(start + k) % len(SENTENCES)] for k in range(count))


async def speak(ws: aiohttp.ClientWebSocketResponse, turn: Turn, voice: str, tokens_per_s: float) -> None:
    """Sends the turn's tokens at LLM speed while reading its answers, until `done` or an error."""
    context = f"session-{turn.session}-turn-{turn.number}"
    base = {"context_id": context, "voice": {"mode": "id", "id": voice}, "add_timestamps": True,
            "output_format": {"container": "raw", "encoding": "pcm_s16le", "sample_rate": SAMPLE_RATE}}  # fmt: skip
    pieces = llm_tokens(turn.text)
    first_end = next(
        n for n, piece in enumerate(pieces) if piece in ".!?" and pieces[n - 1].strip() not in ABBREVIATIONS
    )
    sentence_done: float | None = None

    async def send() -> None:
        nonlocal sentence_done
        for n, piece in enumerate(pieces):
            await ws.send_str(json.dumps({**base, "transcript": piece, "continue": True}))
            if n == first_end:
                sentence_done = time.perf_counter()
            await asyncio.sleep(1 / tokens_per_s)
        await ws.send_str(json.dumps({**base, "transcript": "", "continue": False}))

    sending = asyncio.create_task(send())
    try:
        async for message in ws:
            answer = json.loads(message.data)
            if answer.get("context_id") != context:
                continue
            if answer["type"] == "chunk":
                if turn.first_audio_s is None and sentence_done is not None:
                    turn.first_audio_s = time.perf_counter() - sentence_done
                turn.audio_s += len(base64.b64decode(answer["data"])) / 2 / SAMPLE_RATE
            elif answer["type"] == "timestamps":
                turn.words += answer["word_timestamps"]["words"]
            elif answer["type"] == "error":
                turn.error = f"{answer['status_code']}: {answer['error']}"
                return
            elif answer["type"] == "done":
                return
        turn.error = "the socket closed"
    finally:
        sending.cancel()


async def session(base: str, number: int, turns: int, voice: str, tokens_per_s: float) -> list[Turn]:
    done = []
    url = base.replace("http", "ws", 1) + "/tts/websocket"
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        for turn_number in range(turns):
            turn = Turn(number, turn_number, reply(number, turn_number))
            started = time.perf_counter()
            try:
                await asyncio.wait_for(speak(ws, turn, voice, tokens_per_s), TURN_LIMIT_S)
            except TimeoutError:
                turn.error = f"no done within {TURN_LIMIT_S:.0f} s"
            done.append(turn)
            # the caller hears the reply out, then answers: the next turn starts after that
            played_at = started + (turn.first_audio_s or 0.0) + turn.audio_s
            await asyncio.sleep(max(0.0, played_at - time.perf_counter()) + USER_REPLY_S)
    return done


async def run(args: argparse.Namespace) -> list[Turn]:
    sessions = [session(args.base, n, args.turns, args.voice, args.tokens_per_s) for n in range(args.sessions)]
    return [turn for turns in await asyncio.gather(*sessions) for turn in turns]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="http://127.0.0.1:5000")
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--tokens-per-s", type=float, default=30.0)
    parser.add_argument("--voice", default="af_heart")
    args = parser.parse_args()
    started = time.perf_counter()
    turns = asyncio.run(run(args))
    wall_s = time.perf_counter() - started
    failed = [turn for turn in turns if turn.error]
    misheard = [turn for turn in turns if not turn.error and turn.words != turn.text.split()]
    firsts = [turn.first_audio_s for turn in turns if turn.first_audio_s is not None]
    print(
        f"{args.sessions} sessions x {args.turns} turns at {args.tokens_per_s:.0f} tokens/s: {len(turns)} turns "
        f"in {wall_s:.1f} s, {sum(t.audio_s for t in turns):.1f} s of audio"
    )
    if firsts:
        print(
            f"first audio after the first sentence's end: p50 {statistics.median(firsts):.3f} s, "
            f"p95 {percentile(firsts, 0.95):.3f} s, max {max(firsts):.3f} s"
        )
    print(f"errors: {len(failed)}; turns whose words came back out of order or changed: {len(misheard)}")
    for turn in failed:
        print(f"  session {turn.session} turn {turn.number}: {turn.error}")
    for turn in misheard:
        sent = turn.text.split()
        at = next(
            (n for n, (a, b) in enumerate(zip(turn.words, sent, strict=False)) if a != b),
            min(len(sent), len(turn.words)),
        )
        print(
            f"  session {turn.session} turn {turn.number}: word {at} came back as {turn.words[at : at + 3]}, "
            f"sent {sent[at : at + 3]}"
        )
    return 1 if failed or misheard or len(firsts) < len(turns) else 0


if __name__ == "__main__":
    sys.exit(main())
