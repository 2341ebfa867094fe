"""Gemini Live provider for rtws."""
