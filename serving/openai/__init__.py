"""OpenAI's speech API face: /v1/audio/speech, /v1/models, /v1/audio/voices."""
