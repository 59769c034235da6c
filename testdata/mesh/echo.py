"""A mesh test workload: answers every HTTP request with JSON saying which Pod
answered, what it was asked and who connected (run inside the Pod's network namespace),
and prints a line of JSON for each request it saw (method, path, X-Forwarded-Client-Cert).

    python3 echo.py POD PORT
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

POD = sys.argv[1]
PORT = int(sys.argv[2])


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps({
            "pod": POD,
            "method": self.command,
            "path": self.path,
            "peer": self.client_address[0],
            "headers": {name.lower(): value for name, value in self.headers.items()},
        }).encode()
        print(json.dumps({
            "method": self.command,
            "path": self.path,
            "xfcc": self.headers.get("x-forwarded-client-cert"),
        }), flush=True)
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = answer

    def log_message(self, *args):
        pass


ThreadingHTTPServer.allow_reuse_address = True
print(f"{POD} listening on {PORT}", flush=True)
ThreadingHTTPServer(("0.0.0.0", PORT), Echo).serve_forever()
