"""A real chat-completions HTTP server on 127.0.0.1 for VLM client tests (no network, no mocks of
our code): ``Replay`` answers from a script; ``Oracle`` answers each page by the image it is sent."""

import base64
import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def completion(content, finish="stop", prompt_tokens=1000, completion_tokens=200):
    return {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class Raw:
    """A response body sent as is (an HTML error page, a truncated envelope), with headers."""

    def __init__(self, data: bytes, content_type: str = "text/html", headers: dict | None = None):
        self.data, self.content_type, self.headers = data, content_type, headers or {}


class Replay:
    """A scripted chat-completions server: each request pops the next (status, body, delay);
    a body may be a :class:`Raw` to send bytes and headers as they are."""

    def __init__(self, script):
        self.script, self.requests = list(script), []
        self.lock, self.in_flight, self.max_in_flight = threading.Lock(), 0, 0
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                replay.requests.append(
                    {
                        "path": self.path,
                        "auth": self.headers.get("Authorization"),
                        "body": json.loads(self.rfile.read(length)),
                    }
                )
                with replay.lock:
                    replay.in_flight += 1
                    replay.max_in_flight = max(replay.max_in_flight, replay.in_flight)
                status, body, delay = replay.answer(replay.requests[-1]["body"])
                time.sleep(delay)
                with replay.lock:
                    replay.in_flight -= 1
                raw = body if isinstance(body, Raw) else Raw(json.dumps(body).encode(), "application/json")
                data = raw.data
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", raw.content_type)
                    for name, value in raw.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def answer(self, body):
        with self.lock:
            return self.script.pop(0) if self.script else (500, {"error": "script done"}, 0)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"


def image_sha(body) -> str:
    """SHA-256 of the JPEG a chat request carries (the client's cache key for that image)."""
    url = next(
        part["image_url"]["url"]
        for message in body["messages"]
        if isinstance(message["content"], list)
        for part in message["content"]
        if part.get("type") == "image_url"
    )
    return hashlib.sha256(base64.b64decode(url.split(",", 1)[1])).hexdigest()


class Oracle(Replay):
    """Answers each request with the reading registered for the image it carries."""

    def __init__(self, answers: dict[str, str], delay: float = 0.0, usage=(1000, 200)):
        super().__init__([])
        self.answers, self.delay, self.usage = answers, delay, usage

    def answer(self, body):
        text = self.answers.get(image_sha(body))
        if text is None:
            return 400, {"error": {"message": "unknown image"}}, 0
        return 200, completion(text, prompt_tokens=self.usage[0], completion_tokens=self.usage[1]), self.delay
