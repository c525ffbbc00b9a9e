"""The Kokoro TTS API's face: the /tts/ routes and the demo page."""
