"""OpenAI Realtime provider for rtws."""
