"""Captions: word timings -> readable cues, written as SRT or WebVTT.

A cue holds whole words, at most `max_lines` lines of `max_line_chars` characters (the BBC's and
Netflix's subtitle guidelines: two lines of about 42), and ends where the text pauses when it
can: at a sentence's end, else a clause's, else where the lines run out. A silence longer than
MAX_GAP_S ends a cue too, so no caption stays on screen over a pause. Each word is looked at a
bounded number of times (a cue holds at most its line budget), so the work is linear.
"""

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .marks import CJK_CLAUSE_ENDS, CJK_SENTENCE_ENDS, CLAUSE_ENDS, CLOSERS, OPENERS, PAUSE_MARKS, SENTENCE_ENDS
from .timing import WordTiming

#: a silence this long between two words ends the cue before it
MAX_GAP_S = 1.5
#: a cue this short is shown longer, up to the next cue's start (about the time it takes to read
#: a short line)
MIN_CUE_S = 0.8

_SENTENCE = frozenset(SENTENCE_ENDS + CJK_SENTENCE_ENDS)
_CLAUSE = frozenset(CLAUSE_ENDS + CJK_CLAUSE_ENDS)
#: how strongly a cue may end after a piece: not at all, at a clause's end, at a sentence's end
_NO_CUT, _CLAUSE_CUT, _SENTENCE_CUT = 0, 1, 2


@dataclass(frozen=True)
class Cue:
    start_s: float
    end_s: float
    lines: tuple[str, ...]


@dataclass(frozen=True)
class _Piece:
    """Words the text writes together ("Hello," or "don't"): a line never breaks inside one."""

    text: str
    start_s: float
    end_s: float
    #: what stands between this piece and the next on one line: " ", or "" between CJK words
    joiner: str
    cut: int


def caption_cues(words: Sequence[WordTiming], max_line_chars: int = 42, max_lines: int = 2) -> list[Cue]:
    """`words` in cues, every word once and in order; a word longer than a line is a line of its own."""
    if max_line_chars < 1 or max_lines < 1:
        raise ValueError(f"a cue needs at least one line of one character, not {max_lines} of {max_line_chars}")
    groups = _cue_groups(_pieces(words), max_line_chars, max_lines)
    cues = []
    for n, group in enumerate(groups):
        start_s, end_s = group[0].start_s, group[-1].end_s
        next_start_s = groups[n + 1][0].start_s if n + 1 < len(groups) else None
        end_s = max(end_s, start_s + MIN_CUE_S)
        if next_start_s is not None:
            end_s = max(start_s, min(end_s, next_start_s))
        cues.append(Cue(round(start_s, 3), round(end_s, 3), _balanced_lines(group, max_line_chars, max_lines)))
    return cues


def srt_text(cues: Sequence[Cue]) -> str:
    """A SubRip file: numbered cues, times as 00:00:01,250."""
    blocks = (
        f"{n}\n{_timestamp(cue.start_s, ',')} --> {_timestamp(cue.end_s, ',')}\n" + "\n".join(cue.lines) + "\n"
        for n, cue in enumerate(cues, start=1)
    )
    return "\n".join(blocks)


def vtt_text(cues: Sequence[Cue]) -> str:
    """A WebVTT file: its header, then cues timed as 00:00:01.250, their text escaped as WebVTT
    asks (&, < and > as entities, which also keeps a "-->" in the text from reading as a timing)."""
    blocks = [
        f"{_timestamp(cue.start_s, '.')} --> {_timestamp(cue.end_s, '.')}\n"
        + "".join(f"{_vtt_escaped(line)}\n" for line in cue.lines)
        for cue in cues
    ]
    return "\n".join(["WEBVTT\n", *blocks])


#: a caption format's name -> the file's text from its cues
CAPTION_WRITERS: dict[str, Callable[[Sequence[Cue]], str]] = {"srt": srt_text, "vtt": vtt_text}


def _pieces(words: Sequence[WordTiming]) -> list[_Piece]:
    """The words joined as the text writes them, cut where a line may break."""
    pieces = []
    text, start_s = "", 0.0
    for n, word in enumerate(words):
        spelled = " ".join(word.word.split())  # a word never carries a line break into a cue
        if not text:
            start_s = word.start_s
        text += spelled
        following = words[n + 1].word.strip() if n + 1 < len(words) else ""
        if not following or word.whitespace or _breaks_between(text, following):
            if text:
                joiner = "" if not word.whitespace and following else " "
                pieces.append(_Piece(text, start_s, word.end_s, joiner, _cut_after(text)))
            text = ""
    return pieces


def _breaks_between(before: str, after: str) -> bool:
    """Whether a line may break between two words written without a space: between CJK words
    (which Japanese and Chinese write without one), unless a mark would open the next line or
    close the last one."""
    if not before or not after:
        return False
    last, first = before[-1], after[0]
    return (
        _is_wide(last) and _is_wide(first)
        and last not in OPENERS and first not in PAUSE_MARKS and first not in CLOSERS
    )  # fmt: skip


def _is_wide(character: str) -> bool:
    return unicodedata.east_asian_width(character) in ("W", "F")


def _cut_after(text: str) -> int:
    """How strongly a cue may end after `text`: its last mark, past any closing quote or bracket."""
    stripped = text.rstrip(CLOSERS)
    last = stripped[-1] if stripped else ""
    if last in _SENTENCE:
        return _SENTENCE_CUT
    return _CLAUSE_CUT if last in _CLAUSE else _NO_CUT


def _cue_groups(pieces: list[_Piece], max_line_chars: int, max_lines: int) -> list[list[_Piece]]:
    """Pieces in cues: each cue is filled until the next piece would not fit, then ends at its last
    sentence end, else at its last clause end (once it holds half a line), else where it is; the
    pieces after that cut begin the next cue."""
    groups: list[list[_Piece]] = []
    pending: list[_Piece] = []
    layout = _EMPTY
    n = 0
    while n < len(pieces):
        piece = pieces[n]
        if pending and piece.start_s - pending[-1].end_s > MAX_GAP_S:
            groups.append(pending)
            pending, layout = [], _EMPTY
        placed = _placed(layout, piece, max_line_chars)
        if pending and placed.lines > max_lines:
            taken = _cut_index(pending, max_line_chars)
            groups.append(pending[:taken])
            pending = pending[taken:]
            layout = _EMPTY
            for kept in pending:
                layout = _placed(layout, kept, max_line_chars)
            continue  # the same piece again, after what is left
        pending.append(piece)
        layout = placed
        n += 1
    if pending:
        groups.append(pending)
    return groups


@dataclass(frozen=True)
class _Layout:
    """Where greedy wrapping stands: lines begun, the last one's length, what joins the next piece."""

    lines: int
    line_length: int
    joiner: str


_EMPTY = _Layout(0, 0, "")


def _placed(layout: _Layout, piece: _Piece, width: int) -> _Layout:
    """`layout` with `piece` added at the end of its last line if it fits, else on a new line."""
    if layout.lines and layout.line_length + len(layout.joiner) + len(piece.text) <= width:
        return _Layout(layout.lines, layout.line_length + len(layout.joiner) + len(piece.text), piece.joiner)
    return _Layout(layout.lines + 1, len(piece.text), piece.joiner)


def _cut_index(pending: list[_Piece], max_line_chars: int) -> int:
    """How many of `pending`'s pieces the cue takes: through its last sentence end, else its last
    clause end that leaves the cue half a line long, else all."""
    lengths = []
    length, joiner = 0, ""
    for piece in pending:
        length += len(joiner) + len(piece.text)
        joiner = piece.joiner
        lengths.append(length)
    clause_cut = None
    for n in range(len(pending) - 1, -1, -1):
        if pending[n].cut == _SENTENCE_CUT:
            return n + 1
        if clause_cut is None and pending[n].cut == _CLAUSE_CUT and lengths[n] >= max_line_chars // 2:
            clause_cut = n + 1
    return clause_cut or len(pending)


def _lines(pieces: Sequence[_Piece], width: int) -> list[str]:
    """`pieces` wrapped greedily at `width`: each line takes pieces while they fit; a piece longer
    than `width` is a line of its own."""
    lines: list[str] = []
    line = ""
    joiner = ""
    for piece in pieces:
        if line and len(line) + len(joiner) + len(piece.text) > width:
            lines.append(line)
            line = ""
        line = f"{line}{joiner}{piece.text}" if line else piece.text
        joiner = piece.joiner
    if line:
        lines.append(line)
    return lines


def _line_count(pieces: Sequence[_Piece], width: int) -> int:
    layout = _EMPTY
    for piece in pieces:
        layout = _placed(layout, piece, width)
    return layout.lines


def _balanced_lines(pieces: Sequence[_Piece], max_line_chars: int, max_lines: int) -> tuple[str, ...]:
    """The cue's lines as even as they can be: wrapped at the narrowest width that needs no more
    lines than the widest does (greedy wrapping needs fewer lines the wider it may go, so the
    narrowest such width is found by bisection)."""
    wanted = _line_count(pieces, max_line_chars)
    if wanted == 1:
        return tuple(_lines(pieces, max_line_chars))
    narrow, wide = 1, max_line_chars  # lines(wide) <= wanted
    while narrow < wide:
        middle = (narrow + wide) // 2
        if _line_count(pieces, middle) <= wanted:
            wide = middle
        else:
            narrow = middle + 1
    return tuple(_lines(pieces, wide))


def _timestamp(seconds: float, decimal_mark: str) -> str:
    milliseconds = max(0, round(seconds * 1000))
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole_seconds, milliseconds = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{whole_seconds:02d}{decimal_mark}{milliseconds:03d}"


def _vtt_escaped(line: str) -> str:
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
