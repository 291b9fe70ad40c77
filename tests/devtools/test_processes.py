"""The one readiness check every process starter uses: only its deadline gives up."""

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from devtools import processes


class SlowThenQuick(BaseHTTPRequestHandler):
    """Accepts every connection at once, but the first answers come late, as from a
    server that is up but busy on a loaded machine."""

    slow_answers = 2
    delay = 0.6

    def do_GET(self):
        if type(self).slow_answers > 0:
            type(self).slow_answers -= 1
            time.sleep(self.delay)
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def slow_server():
    SlowThenQuick.slow_answers = 2
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowThenQuick)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


def test_a_read_timeout_means_not_yet(slow_server):
    processes.wait_until_answering(slow_server, deadline_seconds=30, attempt_seconds=0.1)
    assert SlowThenQuick.slow_answers == 0  # it really did time out twice before succeeding


def test_a_refused_connection_means_not_yet_until_the_deadline():
    port = processes.free_port()  # nothing listens here
    started = time.monotonic()
    with pytest.raises(processes.NotReady, match="no answer within"):
        processes.wait_until_answering(f"http://127.0.0.1:{port}/", deadline_seconds=1.0)
    assert time.monotonic() - started >= 1.0


def test_an_accepting_server_that_never_answers_fails_at_the_deadline():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        with pytest.raises(processes.NotReady, match="ReadTimeout"):
            processes.wait_until_answering(url, deadline_seconds=1.0, attempt_seconds=0.3)


def test_a_process_that_exited_stops_the_wait_at_once():
    started = time.monotonic()
    with pytest.raises(processes.NotReady, match="exited before answering"):
        processes.wait_until_answering("http://127.0.0.1:9/", alive=lambda: False, describe=lambda: "the log")
    assert time.monotonic() - started < 5


def test_an_unacceptable_answer_is_not_ready(slow_server):
    SlowThenQuick.slow_answers = 0  # answers at once: only `ok` can refuse them
    with pytest.raises(processes.NotReady, match="HTTP 200"):
        processes.wait_until_answering(
            slow_server, deadline_seconds=5, ok=lambda response: response.status_code == 204
        )
