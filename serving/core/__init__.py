"""A request's life, whatever protocol it came in by: read and validate, admit, plan, schedule,
synthesize, respond. A protocol's face (serving/tts, serving/openai, serving/cartesia) builds a
`TTSRequest` and hands it here; nothing here imports a face."""
