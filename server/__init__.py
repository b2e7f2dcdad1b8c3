"""HTTP API for chat platforms: an OpenAI-compatible chat endpoint, a small native API, keys and isolation.

Imports `convrec.agent` (and `core`, `tools.models` for types) only; see `server/README-section.md`.
"""
