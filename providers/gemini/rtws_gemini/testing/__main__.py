"""Run the fake Gemini Live server: ``python -m rtws_gemini.testing [--port 8765]``.

Point a transport at it with ``GeminiLiveOptions(host="ws://127.0.0.1:8765",
api_key="fake-gemini-key")``. Google's own SDK always connects with ``wss://``:
serve TLS with ``--certfile``/``--keyfile`` and give the SDK
``http_options={"base_url": "https://127.0.0.1:8765", "async_client_args":
{"ssl": <context trusting the certificate>}}``.
"""

from __future__ import annotations

import argparse
import ssl

from rtws.testing.entry import run_until_interrupted, serve_until_stopped

from .server import FakeGeminiServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m rtws_gemini.testing", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--api-key", default="fake-gemini-key", help="the key sessions must present"
    )
    parser.add_argument(
        "--playback-wait",
        type=float,
        default=1.0,
        help="fraction of reply audio to wait before turnComplete",
    )
    parser.add_argument("--voice-activity", action="store_true", help="send voiceActivity messages")
    parser.add_argument(
        "--max-connection-s", type=float, default=None, help="connection limit (goAway before it)"
    )
    parser.add_argument("--certfile", default=None, help="PEM certificate: serve wss://")
    parser.add_argument("--keyfile", default=None, help="PEM private key of --certfile")
    run_until_interrupted(_serve(parser.parse_args(argv)))


async def _serve(args: argparse.Namespace) -> None:
    context: ssl.SSLContext | None = None
    if args.certfile:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.certfile, args.keyfile)
    server = FakeGeminiServer(
        args.api_key,
        host=args.host,
        port=args.port,
        playback_wait=args.playback_wait,
        voice_activity=args.voice_activity,
        max_connection_s=args.max_connection_s,
        ssl=context,
    )
    await serve_until_stopped(
        server, lambda: [f"fake Gemini Live listening on {server.url} (api key {args.api_key!r})"]
    )


if __name__ == "__main__":
    main()
