"""rtws: real-time voice-to-voice LLMs over websockets."""
