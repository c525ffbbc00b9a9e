"""Cartesia's TTS face: its WebSocket protocol for voice agents and its bytes route."""
