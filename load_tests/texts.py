"""English text of an exact length, from varied sentences, ending on a whole word.

The server's admission and limits count characters, so a load test asks for an exact number of
them. Real sentences (not one word repeated) give the phonemizer and the chunker what they meet
in use: clauses of different lengths, questions, quotes, abbreviations and numbers.
"""

import random

SENTENCES = (
    "The old lighthouse keeper climbed the spiral stairs each evening and lit the great lamp.",
    "Turn left at the bakery, walk two blocks north, and the museum is on your right.",
    "Did anyone remember to water the tomatoes before the heat wave arrived?",
    "Dr. Patel said the results would be ready by Thursday afternoon.",
    "A light rain will move in from the west tonight, clearing by early morning.",
    "Whisk three eggs with a pinch of salt, then fold in the melted butter.",
    "In 1969, two astronauts walked on the Moon while millions watched on television.",
    "The train to Edinburgh leaves from platform nine at a quarter past six.",
    '"We should have taken the other road," she said, folding the map in half.',
    "Honeybees visit thousands of flowers to make a single spoonful of honey.",
    "Please keep your ticket until the end of the journey; inspectors may ask for it.",
    "The committee met for four hours and still could not agree on a budget.",
    "Somewhere below the ice, a small robot is measuring the temperature of the ocean.",
    "My grandfather kept every letter he ever received in a wooden box under his bed.",
    "Why do cats always choose the one chair that nobody wants them to sit on?",
    "The orchestra tuned their instruments as the lights in the hall slowly dimmed.",
    "Our flight was delayed by ninety minutes, so we ate dinner at the airport.",
    "Glaciers carved these valleys over many thousands of years.",
    "Remember to back up your files before you install the new update.",
    "The market was crowded with stalls selling apples, cheese, fresh bread and flowers.",
    "Nobody expected the quiet new student to win the chess tournament, but she did.",
    "At dawn the fishing boats returned, followed by a noisy cloud of gulls.",
    "What a wonderful surprise it was to find the garden full of butterflies!",
    "The bridge will be closed for repairs from Monday until the end of the month.",
)
#: FILL_WORDS[n] has n + 1 letters: the last word when the text's end falls inside a sentence's
#: word. The longest must be one letter longer than any word of SENTENCES, punctuation included.
FILL_WORDS = (
    "a", "an", "sea", "tide", "shore", "harbor", "weather", "mountain", "afternoon", "lighthouse",
    "countryside", "neighborhood", "understanding",
)  # fmt: skip
MIN_CHARS = 30


def english_text(chars: int, seed: int = 0) -> str:
    """`chars` characters: SENTENCES in an order shuffled by `seed` (reshuffled each time round),
    whole words while they fit, then one word of FILL_WORDS that ends the text exactly."""
    if chars < MIN_CHARS:
        raise ValueError(f"english_text makes at least {MIN_CHARS} characters, not {chars}")
    text = ""
    for word in _words(random.Random(seed)):
        joined = f"{text} {word}" if text else word
        if len(joined) > chars:
            break
        text = joined
    gap = chars - len(text)
    if gap == 1:  # too short for a space and a word: give the last word back and fill its place
        text = text[: text.rindex(" ")]
        gap = chars - len(text)
    return f"{text} {FILL_WORDS[gap - 2]}" if gap else text


def _words(shuffler: random.Random):
    while True:
        order = list(SENTENCES)
        shuffler.shuffle(order)
        for sentence in order:
            yield from sentence.split()
