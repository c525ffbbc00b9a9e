"""A book of our own making through BentoML's task API, against a live ./serve.sh with its own
BentoML home (a fresh store): its status while it runs, then its audio seconds per wall second
beside the same text sent as POST /tts/ requests one after another, side by side in one run.

  --chars N    the book's size in characters (default 3,000), in --chapters chapters of plain
               sentences, as Markdown; --epub sends the same chapters as an EPUB
  --kill       SIGKILL the server once a chapter is done and another is being made, start it
               again: the job resumes and finishes, and the chapters made before the kill are
               the same files (their sha256 printed before and after)
  --term       the same with SIGTERM, as Kubernetes stops a pod: the server stops the book after
               the chunk in hand (how long it took to exit is printed), and resumes it at once
               when started again on the same host
  --fox N      the fox sentence's /tts/ latency, N times alone and N times while the book runs:
               medians and their ratio (the goal: at most 1.3x)
  --cancel     cancel the book through BentoML's client once it has made some audio: the chunks
               the synthesizers render (tts_chunks_rendered_total) and the server's CPU seconds,
               printed every second for WATCH_S after; they must stop growing within one chunk

Run: python -m benchmarks.books [--chars 3000] [--chapters 3] [--kill | --term | --cancel] [--fox 5] [--epub]
"""

import argparse
import asyncio
import contextlib
import hashlib
import signal
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import bentoml
import psutil
import requests

from benchmarks.serving import FOX, VOICE, audio_seconds, post_json
from serving.books.jobs import job_key
from serving.books.schemas import BookRequest
from tests.books_fixtures import make_epub
from tests.live import chunks_rendered, free_port, live_server

SENTENCES = (
    "The road ran north along the river for most of the morning.",
    "Nobody in the village could remember when the bridge was built.",
    "She counted the boats twice, and both times there were eleven.",
    "By evening the wind had dropped, and the lamps were lit one by one.",
    "He wrote the letter slowly, as if each word had to be paid for.",
    "The market opened at six, long before the first train arrived.",
    "Rain came in from the sea and stayed for three days.",
    "Their grandmother kept every key she had ever been given.",
)
#: a /tts/ request's text, cut at a sentence's end: well under the route's 10,000 characters
TTS_PIECE_CHARS = 2_000
POLL_S = 2.0
#: how long the chunks rendered and the CPU spent are watched after a cancel
WATCH_S = 30


def make_chapters(chars: int, chapters: int) -> list[tuple[str, str]]:
    per_chapter = max(1, chars // chapters)
    made = []
    for number in range(chapters):
        sentences, length = [], 0
        while length < per_chapter:
            sentence = SENTENCES[(number * 3 + len(sentences)) % len(SENTENCES)]
            sentences.append(sentence)
            length += len(sentence) + 1
        made.append((f"Chapter {number + 1}", " ".join(sentences)))
    return made


def markdown(chapters: list[tuple[str, str]]) -> str:
    return "\n\n".join(f"# {title}\n\n{text}" for title, text in chapters)


def pieces(text: str) -> Iterator[str]:
    piece = ""
    for sentence in text.replace(". ", ".\n").splitlines():
        if piece and len(piece) + len(sentence) > TTS_PIECE_CHARS:
            yield piece
            piece = ""
        piece = f"{piece} {sentence}".strip()
    if piece:
        yield piece


async def submit(base: str, chapters: list[tuple[str, str]], epub: Path | None) -> tuple[str, str]:
    """The book sent as BentoML's task; returns the task's id and its job's (which the server
    derives the same way)."""
    async with bentoml.AsyncHTTPClient(base, timeout=600) as client:
        if epub is not None:
            task = await client.narrate_book.submit(file=epub, book_format="epub", voice=VOICE)
        else:
            task = await client.narrate_book.submit(text=markdown(chapters), book_format="markdown", voice=VOICE)
    print(f"task {task.id} submitted")
    data, book_format = (epub.read_bytes(), "epub") if epub is not None else (markdown(chapters).encode(), "markdown")
    return task.id, job_key(data, book_format, BookRequest(voice=VOICE))


def wait_for(base: str, job_id: str, chapters_done: int | None = None) -> dict:
    """The job's status once it is done (or, with `chapters_done`, once that many are, if it runs
    on), printed every POLL_S on the way."""
    while True:
        reply = requests.get(f"{base}/books/{job_id}", timeout=30)
        if reply.status_code == 404:  # the task has not made the job yet
            time.sleep(POLL_S)
            continue
        status = reply.json()
        print(
            f"  {status['state']:9} chapters {status['chapters_done']}/{status['chapters_total']}"
            f"  chars {status['chars_done']}/{status['chars_total']}  audio {status['audio_s']:.1f} s"
            f"  rate {status['chars_per_s']} chars/s  eta {status['eta_s']} s"
        )
        if status["state"] in ("failed", "cancelled"):
            raise RuntimeError(f"the job ended {status['state']}: {status.get('failure')}")
        if status["state"] == "done":
            return status
        if chapters_done is not None and status["chapters_done"] >= chapters_done:
            return status
        time.sleep(POLL_S)


def chapter_hashes(store: Path, job_id: str) -> dict[str, str]:
    folder = store / job_id / "chapters"
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:16] for path in sorted(folder.glob("*.*"))}


def arbiter(port: int) -> psutil.Process:
    """`bentoml serve` on `port`, started by this process (every service is its descendant)."""
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error):
            if "bentoml" in " ".join(child.cmdline()) and str(port) in " ".join(child.cmdline()):
                return child
    raise RuntimeError(f"no server of ours serves port {port}")


def stop_server(port: int, sig: signal.Signals) -> None:
    """`sig` to `bentoml serve` on `port`; waits for it to exit. SIGKILL goes to every one of its
    processes: BentoML starts each service in a process group of its own, which a SIGKILL to the
    arbiter's group would leave serving. SIGTERM goes to the arbiter, which stops its services, as
    Kubernetes does to a pod's first process."""
    server = arbiter(port)
    processes = [server, *server.children(recursive=True)]
    started = time.perf_counter()
    for process in processes if sig == signal.SIGKILL else [server]:
        with contextlib.suppress(psutil.Error):
            process.send_signal(sig)
    psutil.wait_procs(processes, timeout=600)
    print(f"{sig.name}: the server's {len(processes)} processes exited in {time.perf_counter() - started:.1f} s")


def cpu_seconds(server: psutil.Process) -> float:
    """CPU seconds used so far by the server's processes, every service's included."""
    total = 0.0
    for process in [server, *server.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system
    return total


async def cancel_mid_book(base: str, port: int, chapters: list[tuple[str, str]]) -> None:
    async with bentoml.AsyncHTTPClient(base, timeout=600) as client:
        task = await client.narrate_book.submit(text=markdown(chapters), book_format="markdown", voice=VOICE)
        job_id = job_key(markdown(chapters).encode(), "markdown", BookRequest(voice=VOICE))
        while requests.get(f"{base}/books/{job_id}", timeout=30).json().get("audio_s", 0) <= 0:
            await asyncio.sleep(0.2)
        server = arbiter(port)
        chunks, cpu = chunks_rendered(base), cpu_seconds(server)
        await task.cancel()
        print(f"cancelled at {chunks:.0f} chunks rendered")
        for second in range(1, WATCH_S + 1):
            await asyncio.sleep(1)
            print(
                f"  +{second:2d} s: chunks rendered {chunks_rendered(base) - chunks:+.0f}, "
                f"server CPU {cpu_seconds(server) - cpu:.2f} s"
            )
        print(f"job: {requests.get(f'{base}/books/{job_id}', timeout=30).json()['state']}")


def sequential_tts(base: str, chapters: list[tuple[str, str]]) -> tuple[float, float]:
    """The book's text as /tts/ requests one after another: (audio seconds, wall seconds)."""
    started, audio = time.perf_counter(), 0.0
    for _, text in chapters:
        for piece in pieces(text):
            audio += audio_seconds(post_json(base, piece))
    return audio, time.perf_counter() - started


def fox_median(base: str, times: int) -> float:
    took = []
    for _ in range(times):
        started = time.perf_counter()
        post_json(base, FOX)
        took.append(time.perf_counter() - started)
    return statistics.median(took)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chars", type=int, default=3_000)
    parser.add_argument("--chapters", type=int, default=3)
    parser.add_argument("--kill", action="store_true")
    parser.add_argument("--fox", type=int, default=0)
    parser.add_argument("--epub", action="store_true")
    parser.add_argument("--cancel", action="store_true")
    parser.add_argument("--term", action="store_true")
    args = parser.parse_args()
    chapters = make_chapters(args.chars, args.chapters)
    with tempfile.TemporaryDirectory(prefix="books-bench-") as home:
        store = Path(home) / "books"
        env = {"BENTOML_HOME": home}
        port = free_port()
        epub = None
        if args.epub:
            epub = Path(home) / "book.epub"
            epub.write_bytes(make_epub(chapters))
        print(f"book: {sum(len(text) for _, text in chapters)} characters in {len(chapters)} chapters")
        with contextlib.ExitStack() as stack:
            base = stack.enter_context(live_server(port, Path(home) / "serve.log", env))
            if args.cancel:
                asyncio.run(cancel_mid_book(base, port, chapters))
                return
            if args.fox:
                alone = fox_median(base, args.fox)
            started = time.perf_counter()
            task_id, job_id = asyncio.run(submit(base, chapters, epub))
            if args.kill or args.term:
                wait_for(base, job_id, chapters_done=1)
                before = chapter_hashes(store, job_id)
                print(f"stopped with {before}")
                stop_server(port, signal.SIGTERM if args.term else signal.SIGKILL)
                stack.close()
                base = stack.enter_context(live_server(port, Path(home) / "serve-again.log", env))
                print("restarted")
            if args.fox:
                beside: list[float] = []
                fox = threading.Thread(target=lambda: beside.append(fox_median(base, args.fox)))
                fox.start()
            wait_for(base, job_id)
            wall = time.perf_counter() - started
            if args.fox:
                fox.join()
                print(f"fox on /tts/: median {alone:.2f} s alone, {beside[0]:.2f} s while the book ran")
                print(f"  ratio {beside[0] / alone:.2f}x (goal <= 1.3x)")
            manifest = requests.get(f"{base}/books/{job_id}/manifest.json", timeout=30).json()
            book_s = manifest["duration_s"]
            print(f"book: {book_s:.1f} s of audio in {wall:.1f} s: {book_s / wall:.2f}x")
            if args.kill or args.term:
                after = chapter_hashes(store, job_id)
                same = all(after.get(name) == digest for name, digest in before.items())
                print(f"after the restart: {after}")
                print(f"chapters made before the kill unchanged: {same}; chapters {len(manifest['chapters'])}")
                task = requests.get(f"{base}/narrate_book/status", params={"task_id": task_id}, timeout=30)
                print(f"the task sent before the kill: {task.status_code} {task.text}")
            audio, tts_wall = sequential_tts(base, chapters)
            print(f"/tts/ one after another: {audio:.1f} s of audio in {tts_wall:.1f} s: {audio / tts_wall:.2f}x")
            ratio = book_s / wall / (audio / tts_wall)
            print(f"book / sequential /tts/, audio seconds per wall second: {ratio:.2f}")


if __name__ == "__main__":
    main()
