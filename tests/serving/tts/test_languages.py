"""Every language through the HTTP face in-process (the real G2P, a fake synthesizer): Japanese and
Mandarin word timestamps in the user's characters, a language that cannot read the text is a 400
that says which lang to send, never a 500, and /tts/voices names each voice's language and gender."""

import re

import pytest

pytestmark = [pytest.mark.http, pytest.mark.anyio]

JAPANESE = "今日は25度です。iPhoneで写真を撮りました！"
MANDARIN = "今天25度。我用iPhone拍了照片！"


async def speak(client, **body) -> dict:
    reply = await client.post("/tts/", json=body)
    assert reply.status_code == 200, reply.text
    return reply.json()


@pytest.mark.parametrize(
    ("voice", "text", "words"),
    [("jf_alpha", JAPANESE,
      ["今日", "は", "25", "度", "です", "。", "iPhone", "で", "写真", "を", "撮り", "ました", "！"]),
     ("zm_yunxi", MANDARIN, ["今天", "25", "度", "。", "我用", "iPhone", "拍", "了", "照片", "！"])],
)  # fmt: skip
async def test_japanese_and_mandarin_words_are_the_users_characters_in_order(client, voice, text, words):
    body = await speak(client, text=text, voice=voice)
    stamps = body["word_timestamps"]
    assert [w["word"] for w in stamps] == words
    assert not any(w["whitespace"] for w in stamps)
    assert "".join(w["word"] for w in stamps) == text
    starts = [w["start_time"] for w in stamps]
    assert starts == sorted(starts) and stamps[-1]["end_time"] <= body["total_duration"]
    assert all(w["end_time"] > w["start_time"] for w in stamps if re.search(r"\w", w["word"]))


@pytest.mark.parametrize("voice", ["jf_alpha", "zf_xiaobei"])
async def test_a_japanese_or_mandarin_voice_told_to_speak_english_speaks_english_text(client, voice):
    body = await speak(client, text="Hello there, friend.", voice=voice, lang="en-us")
    assert [w["word"] for w in body["word_timestamps"]] == ["Hello", "there", ",", "friend", "."]


@pytest.mark.parametrize(
    ("body", "needle"),
    [({"text": JAPANESE, "voice": "jf_alpha", "lang": "en-us"}, "send lang 'ja'"),
     ({"text": MANDARIN, "voice": "zm_yunxi", "lang": "a"}, "send lang 'zh'"),
     ({"text": JAPANESE, "voice": "af_heart"}, "the text is Japanese, which American English (lang 'a') cannot read"),
     ({"text": MANDARIN, "voice": "bf_emma"}, "Chinese characters, which British English (lang 'b') cannot read"),
     ({"text": "Bonjour. " + JAPANESE, "voice": "ff_siwis"}, "French (lang 'f') cannot read"),
     ({"text": JAPANESE, "voice": "zf_xiaobei"}, "Japanese kana, which Mandarin Chinese (lang 'z') cannot read"),
     ({"text": "Say Привет.", "voice": "af_heart"}, "Cyrillic letters ('П'), which American English (lang 'a')"),
     ({"text": "नमस्ते", "voice": "bf_emma"}, "send a lang that can: 'h' (Hindi)"),
     ({"text": "α 你好", "voice": "zf_xiaobei"}, "Greek letters ('α'), which Mandarin Chinese (lang 'z') cannot read"),
     ({"text": "Привет", "voice": "jf_alpha"}, "no voice here speaks a language written in it"),
     ({"text": "안녕하세요", "voice": "ef_dora"}, "Hangul letters"),
     ({"text": "مرحبا", "voice": "if_sara"}, "Arabic letters")],
)  # fmt: skip
async def test_text_a_language_cannot_read_is_a_400_that_says_which_lang_to_send(client, body, needle):
    for include_timestamps in (True, False):
        reply = await client.post("/tts/", json={**body, "include_timestamps": include_timestamps})
        assert reply.status_code == 400, reply.text
        assert needle in reply.json()["error"]


@pytest.mark.parametrize(
    ("voice", "lang", "text"),
    [("af_heart", "ja", JAPANESE), ("af_heart", "zh", MANDARIN), ("jf_alpha", None, MANDARIN),
     ("zf_xiaobei", "ja", "Hello 世界"), ("jm_kumo", None, "안녕하세요 😀 Ελληνικά"),
     ("zm_yunxi", None, "123 abc ...")],
)  # fmt: skip
async def test_any_voice_with_any_cjk_or_odd_text_is_speech_or_a_400_never_a_500(client, voice, lang, text):
    reply = await client.post("/tts/", json={"text": text, "voice": voice, "lang": lang})
    assert reply.status_code in (200, 400), reply.text
    if reply.status_code == 400:
        assert re.search("nothing to speak|cannot read", reply.json()["error"])


async def test_a_japanese_stream_starts(client):
    reply = await client.post("/tts/", json={"text": JAPANESE * 5, "voice": "jm_kumo", "include_timestamps": False})
    assert reply.status_code == 200 and reply.headers["content-type"] == "audio/wav"
    assert len(reply.content) > 44


async def test_voices_name_their_language_and_gender(client):
    voices = (await client.get("/tts/voices")).json()
    assert voices["count"] == len(voices["voices"]) == len(voices["details"]) == 54
    assert [d["name"] for d in voices["details"]] == voices["voices"]
    details = {d["name"]: d for d in voices["details"]}
    assert details["jf_alpha"] == {"name": "jf_alpha", "language": "Japanese", "gender": "female"}
    assert details["zm_yunxi"] == {"name": "zm_yunxi", "language": "Mandarin Chinese", "gender": "male"}
    assert details["bm_george"] == {"name": "bm_george", "language": "British English", "gender": "male"}
    assert {d["language"] for d in voices["details"]} == {
        "American English", "British English", "Spanish", "French", "Hindi", "Italian", "Japanese",
        "Brazilian Portuguese", "Mandarin Chinese",
    }  # fmt: skip
    assert {d["gender"] for d in voices["details"]} == {"female", "male"}
