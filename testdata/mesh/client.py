"""A mesh test client: sends COUNT requests to URL (from inside a Pod's network
namespace) and prints one JSON object per request: the status and the echoed body, or
the error.

    python3 client.py URL [COUNT] [METHOD] ["NAME: VALUE"]

With INTERVAL set in the environment, it waits that many seconds between requests.
"""
import http.client
import json
import os
import sys
import time
import urllib.parse

url = urllib.parse.urlsplit(sys.argv[1])
count = int(sys.argv[2]) if len(sys.argv) > 2 else 1
method = sys.argv[3] if len(sys.argv) > 3 else "GET"
headers = {"host": None}
if len(sys.argv) > 4:
    name, _, value = sys.argv[4].partition(":")
    headers[name.strip()] = value.strip()
path = url.path or "/"
if url.query:
    path += "?" + url.query
for _ in range(count):
    try:
        connection = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=5)
        headers["host"] = url.netloc
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        text = response.read().decode(errors="replace")
        try:
            body = json.loads(text)
        except ValueError:
            body = text
        print(json.dumps({"status": response.status, "body": body}), flush=True)
        connection.close()
    except Exception as error:  # a refused or closed connection is a result too
        print(json.dumps({"error": f"{type(error).__name__}: {error}"}), flush=True)
    time.sleep(float(os.environ.get("INTERVAL", "0")))
