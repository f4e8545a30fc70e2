"""The tools over gRPC to a broker with TLS and an auth server: --grpc-tls-ca and
--grpc-auth-secret on to_nsq, nsq_tail and nsq_stat; certificates made with the openssl
command at test time, the auth server a local Python HTTP server speaking nsqd's protocol."""
import http.server
import json
import os
import subprocess
import threading
import unittest
import urllib.parse

from cluster import Cluster, Process, tmpdir, tool, wait_for

SECRET = "s3cret"


def make_certs(d):
    """A CA and a server certificate it signs for 127.0.0.1 (EC P-256, one day)."""
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)
    ca_key, ca, key, csr, cert = (os.path.join(d, n) for n in ("ca.key", "ca.pem", "server.key", "server.csr",
                                                               "server.pem"))
    ext = os.path.join(d, "san.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", ca_key,
        "-out", ca, "-days", "1", "-subj", "/CN=test-ca")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr,
        "-subj", "/CN=127.0.0.1")
    run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert, "-days", "1",
        "-extfile", ext)
    return ca, cert, key


class AuthHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        if q.get("secret") == [SECRET]:
            body = json.dumps({"ttl": 3600, "identity": "tools", "identity_url": "", "authorizations": [
                {"permissions": ["publish", "subscribe"], "topic": ".*", "channels": [".*"]}]}).encode()
            self.send_response(200)
        else:
            body = b'{"message":"NOT_AUTHORIZED"}'
            self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def start_tls_auth_broker():
    """A local auth server (AuthHandler) and a cluster of one broker whose gRPC port serves
    TLS and checks every call with it: (auth server, CA file, cluster, gRPC port)."""
    auth = http.server.ThreadingHTTPServer(("127.0.0.1", 0), AuthHandler)
    threading.Thread(target=auth.serve_forever, daemon=True).start()
    ca, cert, key = make_certs(tmpdir())
    cluster = Cluster(brokers=0)
    cluster.brokers.append(cluster.start_broker(
        "--grpc-tls-cert=" + cert, "--grpc-tls-key=" + key,
        "--auth-http-address=127.0.0.1:%d" % auth.server_address[1]))
    return auth, ca, cluster, cluster.brokers[0].found["grpc"]


class GrpcTlsAuthToolsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.auth, cls.ca, cls.cluster, port = start_tls_auth_broker()
        cls.broker = "--broker-address=127.0.0.1:%d" % port
        cls.secure = ["--grpc-tls-ca=" + cls.ca, "--grpc-auth-secret=" + SECRET]

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()
        cls.auth.shutdown()

    def to_nsq(self, topic, *flags, records="a\nb\n"):
        return subprocess.run([tool("to_nsq"), "--topic=" + topic, self.broker, *flags], input=records, text=True,
                              capture_output=True, timeout=30)

    def test_tools_publish_consume_and_read_stats_over_tls_with_a_secret(self):
        self.cluster.create_channel("secured", "stats")  # over HTTP, which needs no secret for this
        r = self.to_nsq("secured", *self.secure)
        self.assertEqual(r.returncode, 0, r.stderr)
        tail = Process([tool("nsq_tail"), "--topic=secured", "-n", "2", "--log-level=info", self.broker,
                        *self.secure], {}, stdout=subprocess.PIPE)
        wait_for(lambda: tail.logged("subscribed to"), 30, "nsq_tail to subscribe")
        r = self.to_nsq("secured", *self.secure)  # nsq_tail's channel gets these two
        self.assertEqual(r.returncode, 0, r.stderr)
        out, _ = tail.proc.communicate(timeout=30)
        self.assertEqual(tail.proc.returncode, 0)
        self.assertEqual(sorted(out.splitlines()), ["a", "b"])
        r = subprocess.run([tool("nsq_stat"), "--topic=secured", "--channel=stats", "--interval=100ms",
                            "--count=1", self.broker, *self.secure], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("ingress", r.stdout)
        r = subprocess.run([tool("nsq_stat"), "--topic=secured", "--channel=stats", "--interval=100ms",
                            "--count=1", self.broker, "--grpc-tls-ca=" + self.ca], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("E_AUTH_REQUIRED", r.stderr)

    def test_without_the_secret_or_the_ca_the_broker_refuses(self):
        r = self.to_nsq("refused", "--grpc-tls-ca=" + self.ca)
        self.assertEqual(r.returncode, 1)
        self.assertIn("E_AUTH_REQUIRED", r.stderr)
        r = self.to_nsq("refused", "--grpc-tls-ca=" + self.ca, "--grpc-auth-secret=wrong")
        self.assertEqual(r.returncode, 1)
        self.assertIn("E_AUTH_FAILED", r.stderr)
        r = self.to_nsq("refused", "--grpc-auth-secret=" + SECRET)  # plaintext to a TLS port
        self.assertEqual(r.returncode, 1)

    def test_a_bad_tls_file_is_a_one_line_error(self):
        r = self.to_nsq("bad", "--grpc-tls-ca=/nonexistent/ca.pem")
        self.assertEqual(r.returncode, 1)
        self.assertIn("/nonexistent/ca.pem", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)


if __name__ == "__main__":
    unittest.main()
