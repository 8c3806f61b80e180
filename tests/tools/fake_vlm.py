#!/usr/bin/env python3
"""A chat-completions server on 127.0.0.1 for sora-caption's tests.

The route is /MODE/v1/chat/completions; MODE says how to answer:
  ok         200, caption "The video shows WxH frames." (W, H: the images' size)
  retry429   first try of each request 429 with Retry-After: 1, then as ok
  flaky500   first two tries of each request 500, then as ok
  err500     always 500 with {"error": {"message": "backend exploded"}}
  slow       answers after 3 s (past the client's timeout)
  badjson    200 with a body that is not JSON
  nochoices  200 with {"choices": []}
Every request is checked (JSON, model, instruction, image count, each image a JPEG whose short side is
--size); a violation is answered 400 and written to --log as "VIOLATION ...". Each answered request is
logged as "REQ <mode> <status> <request key>"; --log also gets "INFLIGHT <max>" lines. The server stops
by itself after --lifetime seconds.
"""
import argparse, base64, hashlib, json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

args = None
lock = threading.Lock()
tries = {}
inflight = 0
max_inflight = 0


def log(line):
    with lock:
        with open(args.log, "a") as f:
            f.write(line + "\n")


def jpeg_size(data):
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker, seg = data[i + 1], int.from_bytes(data[i + 2:i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h = int.from_bytes(data[i + 5:i + 7], "big")
            w = int.from_bytes(data[i + 7:i + 9], "big")
            return w, h
        i += 2 + seg
    return None


def check(body):
    """Returns (problem or None, request key, (w, h))."""
    try:
        req = json.loads(body)
    except ValueError:
        return "request is not JSON", None, None
    if req.get("model") != args.model:
        return "model %r" % req.get("model"), None, None
    msgs = req.get("messages")
    if not isinstance(msgs, list) or len(msgs) != 1 or msgs[0].get("role") != "user":
        return "messages", None, None
    parts = msgs[0].get("content")
    texts = [p for p in parts if p.get("type") == "text"]
    images = [p for p in parts if p.get("type") == "image_url"]
    if len(texts) != 1 or args.instruction not in texts[0].get("text", ""):
        return "instruction missing", None, None
    if len(images) != args.frames:
        return "%d images, want %d" % (len(images), args.frames), None, None
    size = None
    for p in images:
        url = p["image_url"]["url"]
        if not url.startswith("data:image/jpeg;base64,"):
            return "not a JPEG data URL", None, None
        data = base64.b64decode(url.split(",", 1)[1], validate=True)
        wh = jpeg_size(data)
        if not wh or min(wh) != args.size:
            return "JPEG size %r, short side should be %d" % (wh, args.size), None, None
        size = wh
    key = hashlib.sha1(body).hexdigest()[:12]
    return None, key, size


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, payload, headers=()):
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        global inflight, max_inflight
        with lock:
            inflight += 1
            max_inflight = max(max_inflight, inflight)
        try:
            self.handle_post()
        finally:
            with lock:
                inflight -= 1
            log("INFLIGHT %d" % max_inflight)

    def handle_post(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        parts = self.path.strip("/").split("/")
        mode = parts[0]
        if parts[1:] != ["v1", "chat", "completions"]:
            return self.reply(404, {"error": {"message": "no route " + self.path}})
        if self.headers.get("Authorization") != "Bearer " + args.key:
            log("VIOLATION authorization header %r" % self.headers.get("Authorization"))
            return self.reply(401, {"error": {"message": "bad key"}})
        problem, key, size = check(body)
        if problem:
            log("VIOLATION " + problem)
            return self.reply(400, {"error": {"message": "bad request: " + problem}})
        with lock:
            tries[mode, key] = n = tries.get((mode, key), 0) + 1
        time.sleep(args.delay)
        caption = {"choices": [{"message": {"role": "assistant",
                                            "content": "The video shows %dx%d frames." % size}}]}
        if mode == "retry429" and n == 1:
            status, payload, headers = 429, {"error": {"message": "slow down"}}, [("Retry-After", "1")]
        elif mode == "flaky500" and n <= 2:
            status, payload, headers = 500, {"error": {"message": "warming up"}}, []
        elif mode == "err500":
            status, payload, headers = 500, {"error": {"message": "backend exploded"}}, []
        elif mode == "slow":
            time.sleep(3)
            status, payload, headers = 200, caption, []
        elif mode == "badjson":
            status, payload, headers = 200, b"<html>not json", []
        elif mode == "nochoices":
            status, payload, headers = 200, {"choices": []}, []
        else:
            status, payload, headers = 200, caption, []
        log("REQ %s %d %s" % (mode, status, key))
        try:
            self.reply(status, payload, headers)
        except (BrokenPipeError, ConnectionResetError):
            pass


def main():
    global args
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--model", default="test-vlm")
    p.add_argument("--key", required=True)
    p.add_argument("--instruction", default="Describe")
    p.add_argument("--frames", type=int, default=4)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--delay", type=float, default=0.2)
    p.add_argument("--lifetime", type=float, default=300)
    args = p.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Timer(args.lifetime, srv.shutdown).start()
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(args.port_file + ".tmp", args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
