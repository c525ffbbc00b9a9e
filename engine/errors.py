"""Engine errors. Messages say what to change.

EngineError                  a server fault unless a subclass says otherwise (HTTP 500)
 └── InvalidInput            the request can be fixed by the caller (HTTP 400)
      ├── UnknownVoice       names the voices that exist
      ├── UnknownLanguage    names the codes that exist
      ├── LanguageUnavailable  the language is known but its G2P is not installed here
      ├── NothingToSpeak     the text holds nothing pronounceable
      ├── TextTooLong        names the limit
      └── BookError          an uploaded book that cannot be read, or holds no text or too much
"""


class EngineError(Exception):
    pass


class InvalidInput(EngineError):
    pass


class UnknownVoice(InvalidInput):
    def __init__(self, name: str, available: list[str]):
        # the Kokoro TTS API's wording, which its clients already read
        super().__init__(f"Voice '{name}' not found. Available voices: {available}")


class UnknownLanguage(InvalidInput):
    pass


class LanguageUnavailable(InvalidInput):
    pass


class NothingToSpeak(InvalidInput):
    pass


class TextTooLong(InvalidInput):
    def __init__(self, length: int, limit: int):
        super().__init__(f"text is {length} characters; the limit is {limit}. Split it into several requests.")


class BookError(InvalidInput):
    pass
