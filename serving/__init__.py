"""A request's life on the HTTP face: core/ runs it whatever protocol it came in by; tts/,
openai/ and cartesia/ each translate one protocol into a `TTSRequest` and the core's answer back;
app.py puts them on one ASGI app. Data flows one way: app -> a face -> core -> engine."""
