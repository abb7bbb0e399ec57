#!/usr/bin/env python3
"""A webhook server for k8senv's tests, independent of k8senv: Python's standard library only.

It serves, over HTTPS with the certificate k8senv makes for a run:
  POST /validate  admission (AdmissionReview v1): denies an object labelled k8senv.dev/forbidden
  POST /mutate    admission (AdmissionReview v1): adds the label k8senv.dev/mutated=yes (JSONPatch)
  POST /convert   CRD conversion (ConversionReview v1): spec.size (v1) <-> spec.replicas (v2)

Where it listens and with what certificate comes from what k8senv exports:
K8SENV_WEBHOOK_HOST, K8SENV_WEBHOOK_PORT and K8SENV_WEBHOOK_CERT_DIR (tls.crt, tls.key).

Usage:
  server.py                    serve in the foreground
  server.py --background LOG   return once it listens, printing the server's pid (its output
                               goes to LOG); exits 1 with the reason if it cannot listen
"""
import base64
import http.server
import json
import os
import ssl
import sys

FORBIDDEN = "k8senv.dev/forbidden"
MUTATED = "k8senv.dev/mutated"


def admission_response(review, allowed, message=None, patch=None):
    response = {"uid": review["request"]["uid"], "allowed": allowed}
    if message:
        response["status"] = {"code": 403, "message": message}
    if patch is not None:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(json.dumps(patch).encode()).decode()
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}


def validate(review):
    labels = (review["request"].get("object") or {}).get("metadata", {}).get("labels") or {}
    if FORBIDDEN in labels:
        return admission_response(review, False, "k8senv test webhook: the label %s is not allowed here" % FORBIDDEN)
    return admission_response(review, True)


def mutate(review):
    metadata = (review["request"].get("object") or {}).get("metadata", {})
    if metadata.get("labels"):
        patch = [{"op": "add", "path": "/metadata/labels/" + MUTATED.replace("~", "~0").replace("/", "~1"), "value": "yes"}]
    else:
        patch = [{"op": "add", "path": "/metadata/labels", "value": {MUTATED: "yes"}}]
    return admission_response(review, True, patch=patch)


def convert(review):
    request = review["request"]
    desired = request["desiredAPIVersion"]
    converted = []
    for obj in request["objects"]:
        obj = dict(obj)
        spec = dict(obj.get("spec") or {})
        if desired.endswith("/v2") and "size" in spec:
            spec["replicas"] = spec.pop("size")
        elif desired.endswith("/v1") and "replicas" in spec:
            spec["size"] = spec.pop("replicas")
        obj["spec"] = spec
        obj["apiVersion"] = desired
        converted.append(obj)
    return {
        "apiVersion": review.get("apiVersion", "apiextensions.k8s.io/v1"),
        "kind": "ConversionReview",
        "response": {"uid": request["uid"], "convertedObjects": converted, "result": {"status": "Success"}},
    }


ROUTES = {"/validate": validate, "/mutate": mutate, "/convert": convert}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        route = ROUTES.get(self.path.split("?")[0])
        if route is None:
            self.send_error(404)
            return
        review = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        body = json.dumps(route(review)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        sys.stderr.write("webhook-server: %s %s\n" % (self.address_string(), format % args))
        sys.stderr.flush()


def make_server():
    host = os.environ["K8SENV_WEBHOOK_HOST"]
    port = int(os.environ["K8SENV_WEBHOOK_PORT"])
    cert_dir = os.environ["K8SENV_WEBHOOK_CERT_DIR"]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.path.join(cert_dir, "tls.crt"), os.path.join(cert_dir, "tls.key"))
    server = http.server.ThreadingHTTPServer((host, port), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    return server


def main(argv):
    if len(argv) == 3 and argv[1] == "--background":
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            log = os.open(argv[2], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.dup2(log, 1)
            os.dup2(log, 2)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            try:
                server = make_server()
            except Exception as error:  # reported to the parent, which exits 1
                os.write(write_end, ("cannot listen: %s\n" % error).encode())
                os._exit(1)
            os.write(write_end, b"ready\n")
            os.close(write_end)
            server.serve_forever()
            os._exit(0)
        os.close(write_end)
        answer = b""
        while True:
            chunk = os.read(read_end, 4096)
            if not chunk:
                break
            answer += chunk
        if answer != b"ready\n":
            sys.stderr.write("webhook-server: %s" % answer.decode(errors="replace"))
            return 1
        print(pid)
        return 0
    if len(argv) != 1:
        sys.stderr.write(__doc__)
        return 2
    make_server().serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
